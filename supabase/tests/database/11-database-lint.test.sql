-- Supabase's database linter (splinter), as plain SQL over the migrated schema: every
-- lint that applies to this module finds nothing. Each query checks what the lint of
-- that name checks, limited to the schema PostgREST exposes (public) and to objects
-- that do not belong to an extension.
--
-- Each lint is a view in the schema `lint` (rolled back with the test), checked twice:
-- empty over the migrations, then not empty once the last section has created one
-- object that breaks it (a positive control: a lint that cannot fire proves nothing).
begin;
select plan(26);

create schema lint;

-- =============================================================================
-- Performance lints
-- =============================================================================

-- 0003 auth_rls_initplan: a policy calls auth.<function>() or current_setting() per
-- row instead of once per query through a scalar subquery `(select ...)`.
create view lint.auth_rls_initplan as
    select p.tablename, p.policyname, e.expr
    from pg_policies as p
    cross join lateral (values (p.qual), (p.with_check)) as e (expr)
    where p.schemaname = 'public'
      and regexp_replace(lower(e.expr), 'select\s+(auth\.(uid|jwt|role|email)\(\)|current_setting\()', '', 'g')
          ~ '(auth\.(uid|jwt|role|email)\(\)|current_setting\()';
select is_empty('select * from lint.auth_rls_initplan', 'auth_rls_initplan: no policy evaluates auth.uid(), auth.jwt(), auth.role(), auth.email() or current_setting() per row');

-- 0006 multiple_permissive_policies: two permissive policies for one table, role and
-- action (they are OR'd, and each runs for every row). FOR ALL counts for each action,
-- a policy TO public for every role; roles that bypass RLS do not matter.
create view lint.multiple_permissive_policies as
    select c.relname, r.rolname, a.action, array_agg(p.polname order by p.polname)
    from pg_policy as p
    join pg_class as c on c.oid = p.polrelid
    join pg_roles as r on p.polroles @> array[r.oid] or p.polroles = array[0::oid]
    cross join lateral unnest(case p.polcmd
        when 'r' then array['SELECT'] when 'a' then array['INSERT']
        when 'w' then array['UPDATE'] when 'd' then array['DELETE']
        else array['SELECT', 'INSERT', 'UPDATE', 'DELETE'] end) as a (action)
    where c.relnamespace = 'public'::regnamespace
      and c.relkind in ('r', 'p')
      and p.polpermissive
      and not r.rolbypassrls
      and r.rolname not like 'pg\_%'
    group by c.relname, r.rolname, a.action
    having count(*) > 1;
select is_empty('select * from lint.multiple_permissive_policies', 'multiple_permissive_policies: no table has two permissive policies for the same role and action');

-- 0001 unindexed_foreign_keys: a foreign key whose columns do not lead any valid index
-- of its table (deleting a referenced row then scans the referencing table).
create view lint.unindexed_foreign_keys as
    select k.conrelid::regclass, k.conname
    from pg_constraint as k
    where k.contype = 'f'
      and k.connamespace = 'public'::regnamespace
      and not exists (
          select 1
          from pg_index as i
          where i.indrelid = k.conrelid
            and i.indisvalid
            and (string_to_array(i.indkey::text, ' ')::smallint[])[1:cardinality(k.conkey)] = k.conkey
      );
select is_empty('select * from lint.unindexed_foreign_keys', 'unindexed_foreign_keys: every foreign key in public is covered by an index');

-- 0009 duplicate_index: two indexes of one table on the same key, with the same
-- predicate, expressions and uniqueness.
create view lint.duplicate_index as
    select i.indrelid::regclass, array_agg(i.indexrelid::regclass)
    from pg_index as i
    join pg_class as c on c.oid = i.indrelid
    where c.relnamespace = 'public'::regnamespace
    group by i.indrelid, i.indkey::text, i.indclass::text, i.indisunique,
             pg_get_expr(i.indpred, i.indrelid), pg_get_expr(i.indexprs, i.indrelid)
    having count(*) > 1;
select is_empty('select * from lint.duplicate_index', 'duplicate_index: no table has two identical indexes');

-- 0004 no_primary_key: a table without a primary key.
create view lint.no_primary_key as
    select c.relname
    from pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind in ('r', 'p')
      and not exists (select 1 from pg_index as i where i.indrelid = c.oid and i.indisprimary)
      and not exists (select 1 from pg_depend as d where d.objid = c.oid and d.deptype = 'e');
select is_empty('select * from lint.no_primary_key', 'no_primary_key: every table in public has a primary key');

-- =============================================================================
-- Security lints
-- =============================================================================

-- 0013 rls_disabled_in_public: a table the API roles can reach without RLS.
create view lint.rls_disabled_in_public as
    select c.relname
    from pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind in ('r', 'p')
      and not c.relrowsecurity
      and not exists (select 1 from pg_depend as d where d.objid = c.oid and d.deptype = 'e');
select is_empty('select * from lint.rls_disabled_in_public', 'rls_disabled_in_public: every table in public has Row Level Security enabled');

-- 0007 policy_exists_rls_disabled: policies written for a table whose RLS is off
-- (they protect nothing).
create view lint.policy_exists_rls_disabled as
    select c.relname
    from pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and not c.relrowsecurity
      and exists (select 1 from pg_policy as p where p.polrelid = c.oid);
select is_empty('select * from lint.policy_exists_rls_disabled', 'policy_exists_rls_disabled: no table has policies while its RLS is off');

-- 0010 security_definer_view: a view the API roles can read that runs with its
-- owner's rights (bypassing the caller's RLS).
create view lint.security_definer_view as
    select c.relname
    from pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind = 'v'
      and (has_table_privilege('anon', c.oid, 'select')
           or has_table_privilege('authenticated', c.oid, 'select'))
      and not (lower(coalesce(c.reloptions::text, '{}'))::text[]
               && array['security_invoker=1', 'security_invoker=true', 'security_invoker=yes',
                        'security_invoker=on']);
select is_empty('select * from lint.security_definer_view', 'security_definer_view: every view the API roles can read is security_invoker');

-- 0002 auth_users_exposed: a view or materialized view in public that reads
-- auth.users and that anon or authenticated may select.
create view lint.auth_users_exposed as
    select distinct c.relname
    from pg_depend as d
    join pg_rewrite as w on w.oid = d.objid
    join pg_class as c on c.oid = w.ev_class
    where d.refobjid = 'auth.users'::regclass
      and d.deptype = 'n'
      and c.relnamespace = 'public'::regnamespace
      and c.relkind in ('v', 'm')
      and (has_table_privilege('anon', c.oid, 'select')
           or has_table_privilege('authenticated', c.oid, 'select'));
select is_empty('select * from lint.auth_users_exposed', 'auth_users_exposed: no view in public exposes auth.users to anon or authenticated');

-- 0024 rls_policy_always_true: a permissive INSERT, UPDATE, DELETE or ALL policy for
-- anon, authenticated or public whose USING or WITH CHECK is always true (an
-- always-true SELECT policy is a deliberate public read and is not flagged).
create view lint.rls_policy_always_true as
    select p.tablename, p.policyname
    from pg_policies as p
    cross join lateral (values
        (replace(replace(replace(lower(coalesce(p.qual, '')), ' ', ''), E'\n', ''), E'\t', ''),
         replace(replace(replace(lower(coalesce(p.with_check, '')), ' ', ''), E'\n', ''), E'\t', ''))
    ) as n (using_expr, check_expr)
    where p.schemaname = 'public'
      and p.permissive = 'PERMISSIVE'
      and p.roles && array['public', 'anon', 'authenticated']::name[]
      and p.cmd in ('INSERT', 'UPDATE', 'DELETE', 'ALL')
      and (
          (p.cmd <> 'INSERT' and (n.using_expr in ('true', '(true)', '1=1', '(1=1)') or p.qual is null))
          or n.check_expr in ('true', '(true)', '1=1', '(1=1)')
          or (p.cmd = 'INSERT' and p.with_check is null)
      );
select is_empty('select * from lint.rls_policy_always_true', 'rls_policy_always_true: no write policy is always true');

-- 0011 function_search_path_mutable: a function without a pinned search_path (a
-- caller's search_path could then redirect the names it uses).
create view lint.function_search_path_mutable as
    select p.oid::regprocedure
    from pg_proc as p
    where p.pronamespace = 'public'::regnamespace
      and not exists (select 1 from pg_depend as d where d.objid = p.oid and d.deptype = 'e')
      and not exists (
          select 1 from unnest(coalesce(p.proconfig, '{}')) as setting where setting like 'search_path=%'
      );
select is_empty('select * from lint.function_search_path_mutable', 'function_search_path_mutable: every function in public pins its search_path');

-- 0028 anon_security_definer_function_executable: anon may run a SECURITY DEFINER
-- function (with its owner's rights).
create view lint.anon_security_definer_function_executable as
    select p.oid::regprocedure
    from pg_proc as p
    where p.pronamespace = 'public'::regnamespace
      and p.prosecdef
      and has_function_privilege('anon', p.oid, 'execute');
select is_empty('select * from lint.anon_security_definer_function_executable', 'anon_security_definer_function_executable: anon cannot run any SECURITY DEFINER function');

-- 0029 authenticated_security_definer_function_executable: allowed only for the
-- functions users are meant to call and that check the caller themselves
-- (documented in their migrations): is_admin() and auth_user_exists() answer only
-- about the caller; the admin_* functions refuse non-admins; agent_mcp_recommendations()
-- answers only for the caller's own agent.
create view lint.authenticated_security_definer_function_executable as
    select p.oid::regprocedure
    from pg_proc as p
    where p.pronamespace = 'public'::regnamespace
      and p.prosecdef
      and has_function_privilege('authenticated', p.oid, 'execute')
      and p.oid not in (
          'public.is_admin()'::regprocedure,
          'public.auth_user_exists()'::regprocedure,
          'public.admin_list_agent_mcp_connections(integer, timestamptz, uuid, boolean)'::regprocedure,
          'public.admin_agent_mcp_connection_stats()'::regprocedure,
          'public.admin_agent_mcp_usage_series(timestamptz, timestamptz, text)'::regprocedure,
          'public.admin_agent_mcp_usage_by_user(timestamptz, timestamptz)'::regprocedure,
          'public.agent_mcp_recommendations(uuid, integer)'::regprocedure
      );
select is_empty('select * from lint.authenticated_security_definer_function_executable', 'authenticated_security_definer_function_executable: only the documented caller-checking functions');

-- =============================================================================
-- Positive controls: one object that breaks each lint, and the lint finds it
-- =============================================================================

-- A table with RLS, a per-row auth.uid() policy, two permissive SELECT policies, an
-- always-true INSERT policy and a duplicated index.
create table public.lint_control (id integer primary key, owner_id uuid);
alter table public.lint_control enable row level security;
create policy "per-row uid" on public.lint_control for select to authenticated
    using (owner_id = auth.uid());
create policy "second select" on public.lint_control for select to authenticated
    using (owner_id is not null);
create policy "always true insert" on public.lint_control for insert to authenticated
    with check (true);
create index lint_control_owner_a on public.lint_control (owner_id);
create index lint_control_owner_b on public.lint_control (owner_id);
-- A foreign key without an index; a table without a primary key or RLS; policies on a
-- table whose RLS is off.
create table public.lint_control_child (
    id integer primary key,
    parent_id integer references public.lint_control (id)
);
alter table public.lint_control_child enable row level security;
create table public.lint_control_no_pk (value integer);
create table public.lint_control_rls_off (id integer primary key);
create policy "protects nothing" on public.lint_control_rls_off for select to authenticated
    using (false);
-- A definer-rights view users may read, and one exposing auth.users.
create view public.lint_control_view as select id from public.lint_control;
create view public.lint_control_users as select id from auth.users;
grant select on public.lint_control_view, public.lint_control_users to authenticated;
-- A function without a pinned search_path; a SECURITY DEFINER one anyone may run.
create function public.lint_control_unpinned() returns integer language sql as 'select 1';
create function public.lint_control_definer() returns integer
language sql security definer set search_path = '' as 'select 1';
grant execute on function public.lint_control_definer() to anon, authenticated;

select isnt_empty($$select * from lint.auth_rls_initplan where tablename = 'lint_control'$$,
    'auth_rls_initplan finds a per-row auth.uid() policy');
select isnt_empty($$select * from lint.multiple_permissive_policies where relname = 'lint_control'$$,
    'multiple_permissive_policies finds two permissive SELECT policies');
select isnt_empty($$select * from lint.unindexed_foreign_keys where conrelid = 'public.lint_control_child'::regclass$$,
    'unindexed_foreign_keys finds a foreign key without an index');
select isnt_empty($$select * from lint.duplicate_index where indrelid = 'public.lint_control'::regclass$$,
    'duplicate_index finds two identical indexes');
select isnt_empty($$select * from lint.no_primary_key where relname = 'lint_control_no_pk'$$,
    'no_primary_key finds a table without one');
select isnt_empty($$select * from lint.rls_disabled_in_public where relname = 'lint_control_no_pk'$$,
    'rls_disabled_in_public finds a table without RLS');
select isnt_empty($$select * from lint.policy_exists_rls_disabled where relname = 'lint_control_rls_off'$$,
    'policy_exists_rls_disabled finds policies on a table whose RLS is off');
select isnt_empty($$select * from lint.security_definer_view where relname = 'lint_control_view'$$,
    'security_definer_view finds a readable view without security_invoker');
select isnt_empty($$select * from lint.auth_users_exposed where relname = 'lint_control_users'$$,
    'auth_users_exposed finds a readable view over auth.users');
select isnt_empty($$select * from lint.rls_policy_always_true where tablename = 'lint_control'$$,
    'rls_policy_always_true finds an always-true INSERT policy');
select isnt_empty($$select * from lint.function_search_path_mutable where oid = 'public.lint_control_unpinned()'::regprocedure$$,
    'function_search_path_mutable finds a function without a pinned search_path');
select isnt_empty($$select * from lint.anon_security_definer_function_executable where oid = 'public.lint_control_definer()'::regprocedure$$,
    'anon_security_definer_function_executable finds a definer function anon may run');
select isnt_empty($$select * from lint.authenticated_security_definer_function_executable where oid = 'public.lint_control_definer()'::regprocedure$$,
    'authenticated_security_definer_function_executable finds an undocumented definer function');

select * from finish();
rollback;
