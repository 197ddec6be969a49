-- The helper views run with the caller's rights: each user sees their own rows.
begin;
select plan(20);
\ir _helpers.psql

-- A disconnected connection of the owner's, which the views leave out.
insert into public.agent_mcp_connections
    (id, agent_id, mcp_server_instance_id, created_by, is_active, connection_status, created_at)
values ('a2000000-0000-4000-8000-0000000000d1', 'a1000000-0000-4000-8000-000000000001',
        'd0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001',
        false, 'disconnected', '2025-12-01 00:00:00+00');
update public.agent_mcp_connections set connection_status = 'connected'
where id = 'a2000000-0000-4000-8000-000000000001';
-- A second active connection of the owner's, in error.
insert into public.agent_mcp_connections
    (id, agent_id, mcp_server_instance_id, created_by, connection_status, created_at)
values ('a2000000-0000-4000-8000-0000000000e1', 'a1000000-0000-4000-8000-000000000001',
        'd0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001',
        'error', '2025-11-01 00:00:00+00');
-- Server two stops after the owner connected to it.
update public.account_tool_instances set status_on_toolbox = 'stopped'
where id = 'd0000000-0000-4000-8000-000000000002';

-- =============================================================================
-- Owner (a0)
-- =============================================================================
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select results_eq($$
    select id, agent_name, server_name, server_status, connection_status
    from public.active_agent_mcp_connections order by id
$$, $$ values
    ('a2000000-0000-4000-8000-000000000001'::uuid, 'Owner agent', 'Server one', 'running', 'connected'),
    ('a2000000-0000-4000-8000-0000000000e1'::uuid, 'Owner agent', 'Server two', 'stopped', 'error')
$$, 'the owner sees their active connections with agent and server names');
select is_empty($$
    select id from public.active_agent_mcp_connections where id = 'a2000000-0000-4000-8000-0000000000d1'
$$, 'disconnected connections are not in active_agent_mcp_connections');
select results_eq($$
    select user_id, total_connections::int, active_connections::int, error_connections::int,
           last_connection_used, first_connection_created
    from public.user_mcp_connection_stats
$$, $$ values (
    'a0000000-0000-4000-8000-000000000001'::uuid, 2, 1, 1,
    '2026-01-02 10:00:00+00'::timestamptz, '2025-11-01 00:00:00+00'::timestamptz
) $$, 'the owner sees one statistics row, their own, over active connections');

-- =============================================================================
-- Other user (b0)
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as('b0000000-0000-4000-8000-000000000002');

select results_eq(
    $$ select id from public.active_agent_mcp_connections $$,
    $$ values ('b2000000-0000-4000-8000-000000000002'::uuid) $$,
    'the other user sees only their own active connection'
);
select results_eq(
    $$ select user_id, total_connections::int from public.user_mcp_connection_stats $$,
    $$ values ('b0000000-0000-4000-8000-000000000002'::uuid, 1) $$,
    'the other user sees only their own statistics'
);

-- =============================================================================
-- Admin (c0): the views show the admin's own rows (admins use the admin functions)
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as('c0000000-0000-4000-8000-000000000003');

select results_eq(
    $$ select id from public.active_agent_mcp_connections $$,
    $$ values ('c2000000-0000-4000-8000-000000000003'::uuid) $$,
    'an admin sees their own active connections in the view'
);
select results_eq(
    $$ select user_id from public.user_mcp_connection_stats $$,
    $$ values ('c0000000-0000-4000-8000-000000000003'::uuid) $$,
    'an admin sees their own statistics in the view'
);

-- =============================================================================
-- A user without agents
-- =============================================================================
select tests.clear_authentication();
insert into auth.users (id, email) values ('e0000000-0000-4000-8000-000000000005', 'nobody@tests.local');
select tests.authenticate_as('e0000000-0000-4000-8000-000000000005');

select is_empty($$ select id from public.active_agent_mcp_connections $$, 'a user without agents sees no active connection');
select is_empty($$ select user_id from public.user_mcp_connection_stats $$, 'a user without agents has no statistics row');

-- =============================================================================
-- anon
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as_anon();

select throws_ok($$ select * from public.active_agent_mcp_connections $$,
    '42501', 'permission denied for view active_agent_mcp_connections', 'anon cannot read active_agent_mcp_connections');
select throws_ok($$ select * from public.user_mcp_connection_stats $$,
    '42501', 'permission denied for view user_mcp_connection_stats', 'anon cannot read user_mcp_connection_stats');

-- =============================================================================
-- service_role
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as_service_role();

select results_eq($$
    select count(*)::int from public.active_agent_mcp_connections
    where agent_id in ('a1000000-0000-4000-8000-000000000001', 'b1000000-0000-4000-8000-000000000002',
                       'c1000000-0000-4000-8000-000000000003')
$$, $$ values (4) $$, 'service_role sees every user''s active connections');
select results_eq($$
    select count(*)::int from public.user_mcp_connection_stats
    where user_id in ('a0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000002',
                      'c0000000-0000-4000-8000-000000000003')
$$, $$ values (3) $$, 'service_role sees every user''s statistics');

-- =============================================================================
-- Views are read-only: a write is refused as a privilege error (42501, which
-- PostgREST answers 401/403), never "cannot update view" (55000, a 500)
-- =============================================================================
select throws_ok($$ update public.active_agent_mcp_connections set connection_status = 'error' $$,
    '42501', 'permission denied for view active_agent_mcp_connections',
    'service_role cannot write through active_agent_mcp_connections');
select tests.clear_authentication();
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select throws_ok($$
    insert into public.active_agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001')
$$, '42501', 'permission denied for view active_agent_mcp_connections',
    'the owner cannot insert through active_agent_mcp_connections');
select throws_ok($$ update public.active_agent_mcp_connections set connection_status = 'error' $$,
    '42501', 'permission denied for view active_agent_mcp_connections',
    'the owner cannot update through active_agent_mcp_connections');
select throws_ok($$ delete from public.active_agent_mcp_connections $$,
    '42501', 'permission denied for view active_agent_mcp_connections',
    'the owner cannot delete through active_agent_mcp_connections');
select throws_ok($$ delete from public.user_mcp_connection_stats $$,
    '42501', 'permission denied for view user_mcp_connection_stats',
    'the owner cannot delete through user_mcp_connection_stats');
select tests.clear_authentication();
select throws_ok($$ delete from public.user_mcp_connection_stats $$,
    '42501', 'permission denied for view user_mcp_connection_stats: it is read-only',
    'even the owner of the views writes nothing through them');

select tests.clear_authentication();
select ok(
    (select count(*) = 0 from pg_views where schemaname = 'public'
     and definition ilike '%auth.users%'),
    'no view exposes auth.users'
);

select * from finish();
rollback;
