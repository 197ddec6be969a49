-- Structure: tables, columns, keys, indexes, triggers, functions, views, RLS.
begin;
select plan(70);

-- -----------------------------------------------------------------------------
-- Tables and columns
-- -----------------------------------------------------------------------------
select has_table('public', 'agents', 'agents exists');
select has_table('public', 'account_tool_instances', 'account_tool_instances exists');
select has_table('public', 'account_tool_instance_secrets', 'account_tool_instance_secrets exists');
select has_table('public', 'user_roles', 'user_roles exists');
select has_table('public', 'agent_mcp_connections', 'agent_mcp_connections exists');

select columns_are('public', 'agent_mcp_connections', array[
    'id', 'agent_id', 'mcp_server_instance_id', 'connection_config', 'connection_test_result',
    'is_active', 'connection_status', 'last_used', 'usage_stats', 'created_at', 'updated_at',
    'created_by', 'owner_id'
], 'agent_mcp_connections has exactly the research document''s columns and the owner (its agent''s user_id)');

select col_type_is('public', 'agent_mcp_connections', 'connection_config', 'jsonb', 'connection_config is jsonb');
select col_type_is('public', 'agent_mcp_connections', 'usage_stats', 'jsonb', 'usage_stats is jsonb');
select col_type_is('public', 'agent_mcp_connections', 'created_at', 'timestamp with time zone', 'created_at is timestamptz');
select col_not_null('public', 'agent_mcp_connections', 'agent_id', 'agent_id is required');
select col_not_null('public', 'agent_mcp_connections', 'mcp_server_instance_id', 'mcp_server_instance_id is required');
select col_not_null('public', 'agent_mcp_connections', 'is_active', 'is_active is required');
select col_not_null('public', 'agent_mcp_connections', 'connection_status', 'connection_status is required');
select col_default_is('public', 'agent_mcp_connections', 'is_active', 'true', 'is_active defaults to true');
select col_default_is('public', 'agent_mcp_connections', 'connection_status', 'disconnected', 'connection_status defaults to disconnected');
select col_default_is('public', 'agent_mcp_connections', 'connection_config', '{}', 'connection_config defaults to {}');
select col_default_is('public', 'agent_mcp_connections', 'created_by', 'auth.uid()', 'created_by defaults to auth.uid()');
select col_default_is('public', 'agent_mcp_connections', 'id', 'gen_random_uuid()', 'id defaults to gen_random_uuid() (core, no uuid-ossp)');
select hasnt_extension('uuid-ossp', 'the uuid-ossp extension is not needed');

-- -----------------------------------------------------------------------------
-- Keys
-- -----------------------------------------------------------------------------
select col_is_pk('public', 'agent_mcp_connections', 'id', 'id is the primary key');
select fk_ok('public', 'agent_mcp_connections', 'agent_id', 'public', 'agents', 'id', 'agent_id references agents');
select fk_ok('public', 'agent_mcp_connections', 'mcp_server_instance_id', 'public', 'account_tool_instances', 'id', 'mcp_server_instance_id references account_tool_instances');
select fk_ok('public', 'agent_mcp_connections', 'created_by', 'auth', 'users', 'id', 'created_by references auth.users');
select fk_ok('public', 'agents', 'user_id', 'auth', 'users', 'id', 'agents.user_id references auth.users');
select fk_ok('public', 'user_roles', 'user_id', 'auth', 'users', 'id', 'user_roles.user_id references auth.users');

-- -----------------------------------------------------------------------------
-- Indexes
-- -----------------------------------------------------------------------------
select index_is_unique('public', 'agent_mcp_connections', 'agent_mcp_connections_one_active_per_pair', 'one active connection per pair is a unique index');
select is(
    (select pg_get_expr(indpred, indrelid) from pg_index where indexrelid = 'public.agent_mcp_connections_one_active_per_pair'::regclass),
    'is_active',
    'the unique index is partial: only active connections'
);
select has_index('public', 'agent_mcp_connections', 'idx_agent_mcp_connections_agent_id', array['agent_id'], 'index on agent_id');
select has_index('public', 'agent_mcp_connections', 'idx_agent_mcp_connections_server_id', array['mcp_server_instance_id'], 'index on mcp_server_instance_id');
select hasnt_index('public', 'agent_mcp_connections', 'idx_agent_mcp_connections_active', 'no index on the constant key (is_active) where is_active');
select has_index('public', 'agent_mcp_connections', 'idx_agent_mcp_connections_status', array['connection_status'], 'index on connection_status');
select has_index('public', 'agent_mcp_connections', 'idx_agent_mcp_connections_created_at', array['created_at', 'id'], 'index on (created_at, id)');
select hasnt_index('public', 'agent_mcp_connections', 'idx_agent_mcp_connections_last_used', 'no index on last_used (usage updates stay HOT)');
select hasnt_index('public', 'agent_mcp_connections', 'idx_agent_mcp_connections_agent_active', 'no (agent_id, is_active) index beside the unique partial index');
select is_empty($$
    select i.indexrelid::regclass
    from pg_index as i, unnest(i.indkey) as k (attnum)
    join pg_attribute as a on a.attrelid = 'public.agent_mcp_connections'::regclass and a.attnum = k.attnum
    where i.indrelid = 'public.agent_mcp_connections'::regclass
      and a.attname in ('usage_stats', 'last_used', 'updated_at')
$$, 'no index covers a column that usage recording writes (usage updates are HOT)');
select has_index('public', 'agent_mcp_connections', 'idx_agent_mcp_connections_server_active', array['mcp_server_instance_id', 'is_active'], 'index on active connections by server');
select has_index('public', 'agent_mcp_connections', 'idx_agent_mcp_connections_created_by', array['created_by'], 'index on created_by');
select has_index('public', 'agents', 'agents_user_id_idx', array['user_id'], 'index on agents.user_id (used by every policy)');

-- -----------------------------------------------------------------------------
-- Triggers
-- -----------------------------------------------------------------------------
select has_trigger('public', 'agent_mcp_connections', 'trigger_agent_mcp_connections_updated_at', 'updated_at trigger exists');
select has_trigger('public', 'agent_mcp_connections', 'trigger_agent_mcp_connections_check_creator', 'creator check trigger exists');
select has_trigger('public', 'agent_mcp_connections', 'trigger_agent_mcp_connections_guard_update', 'immutability trigger exists');
select has_trigger('public', 'agent_mcp_connections', 'trigger_agent_mcp_connections_check_write', 'connect rules trigger exists');

-- -----------------------------------------------------------------------------
-- Functions: every function of ours pins its search_path
-- -----------------------------------------------------------------------------
select is_empty($$
    select p.oid::regprocedure::text
    from pg_proc as p
    where p.pronamespace = 'public'::regnamespace
      and not exists (
          select 1 from unnest(coalesce(p.proconfig, '{}')) as c where c like 'search_path=%'
      )
$$, 'every function in public sets search_path');

select is_definer('public', 'is_admin', array[]::text[], 'is_admin() is SECURITY DEFINER');
select is_definer('public', 'admin_list_agent_mcp_connections', array['integer', 'timestamp with time zone', 'uuid', 'boolean'], 'admin_list_agent_mcp_connections() is SECURITY DEFINER');
select is_definer('public', 'admin_agent_mcp_connection_stats', array[]::text[], 'admin_agent_mcp_connection_stats() is SECURITY DEFINER');
select isnt_definer('public', 'record_agent_mcp_connection_usage', array['uuid', 'jsonb'], 'record_agent_mcp_connection_usage() is SECURITY INVOKER');
select is_empty($$
    select p.oid::regprocedure::text
    from pg_proc as p
    where p.pronamespace = 'agent_mcp_private'::regnamespace
      -- an aggregate has no settings of its own; its state function pins search_path
      and p.prokind <> 'a'
      and not exists (
          select 1 from unnest(coalesce(p.proconfig, '{}')) as c where c like 'search_path=%'
      )
$$, 'every function in agent_mcp_private sets search_path');
select is(
    (select provolatile from pg_proc where oid = 'public.validate_connection_config(jsonb)'::regprocedure),
    'i'::"char",
    'validate_connection_config() is IMMUTABLE'
);
select is_empty($$
    select p.oid::regprocedure::text
    from pg_proc as p
    where p.pronamespace = 'public'::regnamespace
      and p.prosecdef
      and p.proname not in ('is_admin', 'auth_user_exists', 'admin_list_agent_mcp_connections',
                            'admin_agent_mcp_connection_stats',
                            'admin_agent_mcp_usage_series', 'admin_agent_mcp_usage_by_user',
                            'agent_mcp_recommendations', 'refresh_agent_mcp_recommendations',
                            -- service_role only: the one way into agent_mcp_secrets
                            'set_mcp_server_credentials', 'delete_mcp_server_credentials',
                            'list_mcp_server_credentials', 'mcp_server_probe_credentials')
$$, 'no SECURITY DEFINER function in public beyond those that check their caller or only service_role runs');

-- -----------------------------------------------------------------------------
-- Views run with the caller's rights
-- -----------------------------------------------------------------------------
select has_view('public', 'active_agent_mcp_connections', 'active_agent_mcp_connections exists');
select has_view('public', 'user_mcp_connection_stats', 'user_mcp_connection_stats exists');
select is_empty($$
    select c.relname
    from pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind = 'v'
      and not coalesce('security_invoker=true' = any (c.reloptions), false)
$$, 'every view in public is security_invoker');

-- -----------------------------------------------------------------------------
-- Row Level Security and privileges
-- -----------------------------------------------------------------------------
select is_empty($$
    select c.relname
    from pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind = 'r'
      and not c.relrowsecurity
$$, 'RLS is enabled on every table in public');

select policies_are('public', 'agent_mcp_connections', array[
    'Users can view their own agent connections',
    'Users can create connections for their own agents',
    'Users can update their own agent connections',
    'Users can delete their own agent connections'
], 'agent_mcp_connections has the owner policies and no permissive admin policy');
select policy_roles_are('public', 'agent_mcp_connections', 'Users can view their own agent connections', array['authenticated'], 'the select policy applies to authenticated');
select policy_cmd_is('public', 'agent_mcp_connections', 'Users can view their own agent connections', 'select', 'the view policy is for select');
select ok(
    (select bool_and(qual like '%( SELECT auth.uid() AS uid)%' or with_check like '%( SELECT auth.uid() AS uid)%')
     from pg_policies where tablename = 'agent_mcp_connections'),
    'every policy reads auth.uid() once per query, through a subselect'
);
select is_empty($$
    select tablename, cmd, roles, count(*)
    from pg_policies, unnest(roles) as r
    where schemaname = 'public' and permissive = 'PERMISSIVE'
    group by tablename, cmd, roles
    having count(*) > 1
$$, 'no table has two permissive policies for the same role and command');

select table_privs_are('public', 'agent_mcp_connections', 'anon', array[]::text[], 'anon has no privilege on agent_mcp_connections');
select table_privs_are('public', 'agent_mcp_connections', 'authenticated', array['SELECT', 'DELETE'], 'authenticated may select and delete (under RLS); insert and update are per column');
select is(
    (select string_agg(privilege_type || ' ' || column_name, ', ' order by privilege_type, column_name)
     from information_schema.column_privileges
     where table_schema = 'public' and table_name = 'agent_mcp_connections' and grantee = 'authenticated'
       and privilege_type in ('INSERT', 'UPDATE')),
    'INSERT agent_id, INSERT connection_config, INSERT mcp_server_instance_id, UPDATE connection_config, UPDATE is_active',
    'users insert what a connect needs and update only their config and is_active'
);
select schema_privs_are('agent_mcp_private', 'anon', array[]::text[], 'anon cannot use the private schema');
select table_privs_are('public', 'active_agent_mcp_connections', 'anon', array[]::text[], 'anon cannot read active_agent_mcp_connections');
select table_privs_are('public', 'user_mcp_connection_stats', 'anon', array[]::text[], 'anon cannot read user_mcp_connection_stats');
select table_privs_are('public', 'account_tool_instance_secrets', 'authenticated', array[]::text[], 'authenticated has no privilege on server secrets');
select table_privs_are('public', 'account_tool_instance_secrets', 'anon', array[]::text[], 'anon has no privilege on server secrets');
select function_privs_are('public', 'record_agent_mcp_connection_usage', array['uuid', 'jsonb'], 'anon', array[]::text[], 'anon cannot record usage');
select function_privs_are('public', 'admin_list_agent_mcp_connections', array['integer', 'timestamp with time zone', 'uuid', 'boolean'], 'anon', array[]::text[], 'anon cannot call the admin list');
select ok(
    (select rolbypassrls from pg_roles where rolname = 'service_role'),
    'service_role bypasses RLS'
);

select * from finish();
rollback;
