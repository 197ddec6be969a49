-- The grant matrix: every table, view, sequence, column privilege and function the
-- module creates in public, with exactly what each role holds on it, against an
-- explicit list. As on a Supabase project created today, nothing is granted by
-- default, so each row below is a grant a migration makes on purpose.
--
-- Fails, with the missing and extra rows, on:
--   * a grant a migration lost, or one no row below expects (any grantee: anon,
--     authenticated, service_role, PUBLIC or another role);
--   * a new object in public without a row below (list it, with its grants, or with
--     `null, null` when nobody but its owner may use it).
-- Objects that belong to an extension (pgtap, if installed in public) are left out,
-- and so are the owner's own privileges.
--
-- Editing: one row per object and grantee, privileges in alphabetical order,
-- grouped by the migration that grants them. Function signatures are argument types.
-- Privileges: SELECT INSERT UPDATE DELETE TRUNCATE REFERENCES TRIGGER (tables,
-- views, columns), USAGE SELECT UPDATE (sequences), EXECUTE (functions); a `*`
-- after a privilege means WITH GRANT OPTION.
begin;
select plan(12);

create temporary table expected_grants (
    object text not null,
    grantee text,
    privileges text
) on commit drop;

insert into expected_grants (object, grantee, privileges) values
    -- 20261124000000_agent_mcp_prerequisites.sql
    ('table agents',                         'authenticated', 'DELETE, INSERT, SELECT, UPDATE'),
    ('table agents',                         'service_role',  'DELETE, INSERT, SELECT, UPDATE'),
    ('table account_tool_instances',         'authenticated', 'DELETE, INSERT, SELECT, UPDATE'),
    ('table account_tool_instances',         'service_role',  'DELETE, INSERT, SELECT, UPDATE'),
    ('table account_tool_instance_secrets',  'service_role',  'DELETE, INSERT, SELECT, UPDATE'),
    ('table user_roles',                     'authenticated', 'SELECT'),
    ('table user_roles',                     'service_role',  'DELETE, INSERT, SELECT, UPDATE'),
    ('function is_admin()',                  'authenticated', 'EXECUTE'),
    ('function is_admin()',                  'service_role',  'EXECUTE'),

    -- 20261124000100_agent_mcp_connections.sql
    -- users write only what they own by intent, column by column
    ('table agent_mcp_connections',          'authenticated', 'DELETE, SELECT'),
    ('column agent_mcp_connections.agent_id',               'authenticated', 'INSERT'),
    ('column agent_mcp_connections.mcp_server_instance_id', 'authenticated', 'INSERT'),
    ('column agent_mcp_connections.connection_config',      'authenticated', 'INSERT, UPDATE'),
    ('column agent_mcp_connections.is_active',              'authenticated', 'UPDATE'),
    ('table agent_mcp_connections',          'service_role',  'DELETE, INSERT, SELECT, UPDATE'),
    ('function jsonb_is_integer_between(jsonb, numeric, numeric)', 'authenticated', 'EXECUTE'),
    ('function jsonb_is_integer_between(jsonb, numeric, numeric)', 'service_role',  'EXECUTE'),
    ('function validate_custom_headers(jsonb)',                    'authenticated', 'EXECUTE'),
    ('function validate_custom_headers(jsonb)',                    'service_role',  'EXECUTE'),
    ('function validate_connection_config(jsonb)',                 'authenticated', 'EXECUTE'),
    ('function validate_connection_config(jsonb)',                 'service_role',  'EXECUTE'),
    -- trigger functions: fire without EXECUTE, nobody calls them
    ('function update_agent_mcp_connections_updated_at()',         null, null),
    ('function agent_mcp_connections_check_creator()',             null, null),
    ('function agent_mcp_connections_guard_update()',              null, null),

    -- 20261124000150_agent_mcp_connection_lifecycle.sql
    ('function connect_agent_mcp_server(uuid, uuid, jsonb)',        'authenticated', 'EXECUTE'),
    ('function connect_agent_mcp_server(uuid, uuid, jsonb)',        'service_role',  'EXECUTE'),
    ('function update_agent_mcp_connection_config(uuid, jsonb)',    'authenticated', 'EXECUTE'),
    ('function update_agent_mcp_connection_config(uuid, jsonb)',    'service_role',  'EXECUTE'),
    ('function disconnect_agent_mcp_connection(uuid)',              'authenticated', 'EXECUTE'),
    ('function disconnect_agent_mcp_connection(uuid)',              'service_role',  'EXECUTE'),

    -- 20261124000200_agent_mcp_connection_views.sql
    ('view active_agent_mcp_connections',    'authenticated', 'SELECT'),
    ('view active_agent_mcp_connections',    'service_role',  'SELECT'),
    ('view user_mcp_connection_stats',       'authenticated', 'SELECT'),
    ('view user_mcp_connection_stats',       'service_role',  'SELECT'),

    -- 20261124000300_agent_mcp_connection_usage.sql
    ('function usage_stat(jsonb, text)',                           'authenticated', 'EXECUTE'),
    ('function usage_stat(jsonb, text)',                           'service_role',  'EXECUTE'),
    ('function is_valid_usage_event(jsonb)',                       'authenticated', 'EXECUTE'),
    ('function is_valid_usage_event(jsonb)',                       'service_role',  'EXECUTE'),
    ('function record_agent_mcp_connection_usage(uuid, jsonb)',    'authenticated', 'EXECUTE'),
    ('function record_agent_mcp_connection_usage(uuid, jsonb)',    'service_role',  'EXECUTE'),
    ('table agent_mcp_connection_usage_buckets',                   'authenticated', 'SELECT'),
    ('table agent_mcp_connection_usage_buckets',                   'service_role',  'DELETE, INSERT, SELECT, UPDATE'),
    ('function fold_agent_mcp_usage_buckets(interval)',            'service_role',  'EXECUTE'),

    -- 20261124000400_agent_mcp_connection_admin.sql
    ('function admin_list_agent_mcp_connections(integer, timestamp with time zone, uuid, boolean)', 'authenticated', 'EXECUTE'),
    ('function admin_list_agent_mcp_connections(integer, timestamp with time zone, uuid, boolean)', 'service_role',  'EXECUTE'),
    ('function admin_agent_mcp_connection_stats()',                'authenticated', 'EXECUTE'),
    ('function admin_agent_mcp_connection_stats()',                'service_role',  'EXECUTE'),

    -- 20261124000500_agent_mcp_connection_tests.sql
    ('function begin_agent_mcp_connection_test(uuid)',             'authenticated', 'EXECUTE'),
    ('function begin_agent_mcp_connection_test(uuid)',             'service_role',  'EXECUTE'),
    ('function finish_agent_mcp_connection_test(uuid, jsonb, text)', 'authenticated', 'EXECUTE'),
    ('function finish_agent_mcp_connection_test(uuid, jsonb, text)', 'service_role',  'EXECUTE'),

    -- 20261124000600_mcp_health_checks.sql
    ('table mcp_health_check_runs',          'service_role',  'DELETE, INSERT, SELECT, UPDATE'),
    ('table mcp_health_checks',              'authenticated', 'SELECT'),
    ('table mcp_health_checks',              'service_role',  'DELETE, INSERT, SELECT, UPDATE'),
    -- identity sequence: an identity column draws values without a USAGE check
    ('sequence mcp_health_checks_id_seq',    null, null),
    ('table agent_mcp_connection_health',    'authenticated', 'SELECT'),
    ('table agent_mcp_connection_health',    'service_role',  'DELETE, INSERT, SELECT, UPDATE'),
    ('view agent_mcp_connection_health_summary', 'authenticated', 'SELECT'),
    ('view agent_mcp_connection_health_summary', 'service_role',  'SELECT'),
    ('function probe_target_key(jsonb)',                           'authenticated', 'EXECUTE'),
    ('function probe_target_key(jsonb)',                           'service_role',  'EXECUTE'),
    ('function probe_target_key(uuid, jsonb)',                     'authenticated', 'EXECUTE'),
    ('function probe_target_key(uuid, jsonb)',                     'service_role',  'EXECUTE'),
    ('table mcp_health_check_batches',       'service_role',  'DELETE, INSERT, SELECT, UPDATE'),
    ('sequence mcp_health_check_batches_id_seq', null, null),
    ('function mcp_url_origin(text)',                              'service_role',  'EXECUTE'),
    ('function mcp_health_check_targets(uuid[], uuid[], integer, integer, text)', 'service_role', 'EXECUTE'),
    ('function begin_mcp_health_check_run(integer, integer, uuid[], uuid[], integer, integer, integer, integer, jsonb)', 'service_role', 'EXECUTE'),
    ('function claim_mcp_health_check_batch(uuid, integer, integer)', 'service_role', 'EXECUTE'),
    ('function extend_mcp_health_check_batch_lease(bigint, uuid)', 'service_role',  'EXECUTE'),
    ('function record_mcp_health_check_batch(bigint, uuid, jsonb, jsonb)', 'service_role', 'EXECUTE'),
    ('function mcp_health_check_run_state(uuid)',                  'service_role',  'EXECUTE'),
    ('function finish_mcp_health_check_run(uuid)',                 'service_role',  'EXECUTE'),

    -- 20261124000700_auth_user_exists.sql
    ('function auth_user_exists()',                                'authenticated', 'EXECUTE'),
    ('function auth_user_exists()',                                'service_role',  'EXECUTE'),

    -- 20261124001000_agent_mcp_recommendations.sql
    ('table agent_mcp_recommendation_settings', 'service_role', 'SELECT, UPDATE'),
    ('table agent_mcp_recommendation_servers',  'service_role', 'SELECT'),
    ('table agent_mcp_recommendation_pairs',    'service_role', 'SELECT'),
    ('function agent_mcp_recommendation_round_count(integer)', 'service_role',  'EXECUTE'),
    ('function refresh_agent_mcp_recommendations()',           'service_role',  'EXECUTE'),
    ('function agent_mcp_recommendations(uuid, integer)',      'authenticated', 'EXECUTE'),
    ('function agent_mcp_recommendations(uuid, integer)',      'service_role',  'EXECUTE'),

    -- 20261124001100_agent_mcp_usage_reports.sql
    ('function agent_mcp_connection_usage_series(uuid, timestamp with time zone, timestamp with time zone, text)', 'authenticated', 'EXECUTE'),
    ('function agent_mcp_connection_usage_series(uuid, timestamp with time zone, timestamp with time zone, text)', 'service_role',  'EXECUTE'),
    ('function agent_mcp_usage_series(timestamp with time zone, timestamp with time zone, text)',                  'authenticated', 'EXECUTE'),
    ('function agent_mcp_usage_series(timestamp with time zone, timestamp with time zone, text)',                  'service_role',  'EXECUTE'),
    ('function agent_mcp_usage_by_connection(timestamp with time zone, timestamp with time zone)',                 'authenticated', 'EXECUTE'),
    ('function agent_mcp_usage_by_connection(timestamp with time zone, timestamp with time zone)',                 'service_role',  'EXECUTE'),
    ('function agent_mcp_connection_health_series(uuid, timestamp with time zone, timestamp with time zone, text)', 'authenticated', 'EXECUTE'),
    ('function agent_mcp_connection_health_series(uuid, timestamp with time zone, timestamp with time zone, text)', 'service_role',  'EXECUTE'),
    ('function admin_agent_mcp_usage_series(timestamp with time zone, timestamp with time zone, text)',            'authenticated', 'EXECUTE'),
    ('function admin_agent_mcp_usage_series(timestamp with time zone, timestamp with time zone, text)',            'service_role',  'EXECUTE'),
    ('function admin_agent_mcp_usage_by_user(timestamp with time zone, timestamp with time zone)',                 'authenticated', 'EXECUTE'),
    ('function admin_agent_mcp_usage_by_user(timestamp with time zone, timestamp with time zone)',                 'service_role',  'EXECUTE'),

    -- 20261124001200_mcp_server_credentials.sql: administrators and the probe, service_role only
    ('function set_mcp_server_credentials(uuid, jsonb)',         'service_role',  'EXECUTE'),
    ('function delete_mcp_server_credentials(uuid)',             'service_role',  'EXECUTE'),
    ('function list_mcp_server_credentials()',                   'service_role',  'EXECUTE'),
    ('function mcp_server_probe_credentials(uuid[])',            'service_role',  'EXECUTE');


-- =============================================================================
-- What the database holds
-- =============================================================================

-- Every object of the module in public (extension members left out).
create temporary view module_objects as
    select c.oid, 'pg_class'::regclass as catalog,
           case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                          when 'S' then 'sequence' when 'f' then 'foreign table'
                          else 'table' end || ' ' || quote_ident(c.relname) as object,
           c.relowner as owner, c.relacl as acl
    from pg_catalog.pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
      and not exists (select 1 from pg_catalog.pg_depend as d
                      where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
    union all
    select p.oid, 'pg_proc'::regclass,
           'function ' || quote_ident(p.proname) || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')',
           p.proowner,
           -- A function without an ACL has PostgreSQL's default: EXECUTE for PUBLIC.
           coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))
    from pg_catalog.pg_proc as p
    where p.pronamespace = 'public'::regnamespace
      and not exists (select 1 from pg_catalog.pg_depend as d
                      where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e');

-- Who holds what on each object (and each column), the owner's own rights left out.
create temporary view actual_grants as
    with entries as (
        select o.object, o.owner, a.grantee, a.privilege_type, a.is_grantable
        from module_objects as o
        cross join lateral pg_catalog.aclexplode(o.acl) as a
        union all
        select 'column ' || quote_ident(c.relname) || '.' || quote_ident(att.attname),
               c.relowner, a.grantee, a.privilege_type, a.is_grantable
        from module_objects as o
        join pg_catalog.pg_class as c on o.catalog = 'pg_class'::regclass and c.oid = o.oid
        join pg_catalog.pg_attribute as att on att.attrelid = c.oid
        cross join lateral pg_catalog.aclexplode(att.attacl) as a
        where att.attnum > 0 and not att.attisdropped and att.attacl is not null
    )
    select e.object,
           case e.grantee when 0 then 'PUBLIC' else pg_catalog.pg_get_userbyid(e.grantee)::text end as grantee,
           string_agg(e.privilege_type || case when e.is_grantable then '*' else '' end, ', '
                      order by e.privilege_type) as privileges
    from entries as e
    where e.grantee <> e.owner
    group by e.object, e.grantee;


-- =============================================================================
-- The matrix
-- =============================================================================

select set_eq(
    $$ select object from module_objects $$,
    -- (column rows name a table's columns; the table itself has its own row)
    $$ select distinct object from expected_grants where object not like 'column %' $$,
    'every table, view, sequence and function in public has a deliberate row in the expected grants (and every row names an object that exists)'
);

select set_eq(
    $$ select object, grantee, privileges from actual_grants $$,
    $$ select object, grantee, privileges from expected_grants where grantee is not null $$,
    'each role holds exactly the expected privileges on each object and column: none missing, none extra'
);

-- The same, asked the way PostgreSQL decides (role membership and PUBLIC included):
-- anon can do nothing with the module.
select is_empty($$
    select o.object, priv
    from module_objects as o
    cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) as priv
    where o.catalog = 'pg_class'::regclass and o.object not like 'sequence %'
      and (has_table_privilege('anon', o.oid, priv)
           or (priv in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
               and has_any_column_privilege('anon', o.oid, priv)))
    union all
    select o.object, 'EXECUTE'
    from module_objects as o
    where o.catalog = 'pg_proc'::regclass
      and has_function_privilege('anon', o.oid, 'EXECUTE')
$$, 'anon holds no privilege on any table, column, view or function of the module, not even through PUBLIC');


-- =============================================================================
-- Positive control: the matrix notices an extra grant and an unlisted object
-- =============================================================================

savepoint control;
grant truncate on table public.agents to anon;
select isnt_empty($$
    select object, grantee, privileges from actual_grants
    except select object, grantee, privileges from expected_grants
$$, 'control: an extra grant (TRUNCATE on agents to anon) shows up as an extra row');
rollback to savepoint control;

revoke select on table public.user_mcp_connection_stats from service_role;
select isnt_empty($$
    select object, grantee, privileges from expected_grants where grantee is not null
    except select object, grantee, privileges from actual_grants
$$, 'control: a lost grant (SELECT on user_mcp_connection_stats for service_role) shows up as a missing row');
rollback to savepoint control;

grant update (connection_config) on table public.agent_mcp_connections to anon;
select is(
    (select string_agg(format('%s | %s | %s', object, grantee, privileges), E'\n')
     from actual_grants where object = 'column agent_mcp_connections.connection_config'
       and grantee = 'anon'),
    'column agent_mcp_connections.connection_config | anon | UPDATE',
    'control: a column-level grant shows up as its own row');
rollback to savepoint control;

create table public.grants_control_table (id integer);
select isnt_empty($$
    select object from module_objects except select object from expected_grants
$$, 'control: a new table without an expected row shows up');
rollback to savepoint control;


-- =============================================================================
-- Hosted default: nothing new in public is granted to the API roles
-- =============================================================================

-- As the migrations run (postgres), with the local platform's defaults.
create table public.hosted_default_table (id integer generated by default as identity, note text);
create view public.hosted_default_view with (security_invoker = true) as
    select id from public.hosted_default_table;
create sequence public.hosted_default_sequence;
create function public.hosted_default_function() returns integer language sql
    set search_path = '' as $$ select 1 $$;

select is_empty($$
    select defaclrole::regrole, defaclobjtype, defaclacl
    from pg_catalog.pg_default_acl
    where defaclnamespace in (0, 'public'::regnamespace)
$$, 'hosted default: no default privileges for any role, in public or globally');

select is_empty($$
    select r.role, t.name, p.priv
    from unnest(array['anon', 'authenticated', 'service_role']) as r (role)
    cross join unnest(array['public.hosted_default_table', 'public.hosted_default_view']) as t (name)
    cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) as p (priv)
    where has_table_privilege(r.role, t.name, p.priv)
$$, 'hosted default: a new table and a new view in public give anon, authenticated and service_role nothing');

select is_empty($$
    select r.role, s.name, p.priv
    from unnest(array['anon', 'authenticated', 'service_role']) as r (role)
    cross join unnest(array['public.hosted_default_sequence', 'public.hosted_default_table_id_seq']) as s (name)
    cross join unnest(array['USAGE', 'SELECT', 'UPDATE']) as p (priv)
    where has_sequence_privilege(r.role, s.name, p.priv)
$$, 'hosted default: new sequences in public (plain and identity) give the API roles nothing');

select is(
    (select proacl from pg_catalog.pg_proc where oid = 'public.hosted_default_function()'::regprocedure),
    null,
    'hosted default: a new function keeps PostgreSQL''s own ACL (EXECUTE for PUBLIC only, nothing granted to the API roles)'
);

select is_empty($$
    select c.relname, c.relacl
    from pg_catalog.pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relname in ('hosted_default_table', 'hosted_default_view', 'hosted_default_sequence',
                        'hosted_default_table_id_seq')
      and c.relacl is not null
$$, 'hosted default: the new relations carry no ACL at all (owner only)');

select * from finish();
rollback;
