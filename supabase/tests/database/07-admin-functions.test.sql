-- Admin read access: every user's connections, for admins only, paged newest first.
begin;
select plan(14);
\ir _helpers.psql

-- =============================================================================
-- Admin (c0)
-- =============================================================================
select tests.authenticate_as('c0000000-0000-4000-8000-000000000003');

select ok(is_admin(), 'is_admin() is true for an admin');
select results_eq($$
    select id from admin_list_agent_mcp_connections(1000)
    where id in ('a2000000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000002',
                 'c2000000-0000-4000-8000-000000000003')
$$, $$ values
    ('c2000000-0000-4000-8000-000000000003'::uuid),
    ('b2000000-0000-4000-8000-000000000002'::uuid),
    ('a2000000-0000-4000-8000-000000000001'::uuid)
$$, 'an admin lists every user''s connections, newest first');

select results_eq($$
    select id from admin_list_agent_mcp_connections(
        1, '2026-01-01 12:00:00+00', 'c2000000-0000-4000-8000-000000000003')
$$, $$ values ('b2000000-0000-4000-8000-000000000002'::uuid) $$,
'the next page starts after the given key');

select results_eq($$
    select id from admin_list_agent_mcp_connections(
        2, '2026-01-01 11:00:00+00', 'b2000000-0000-4000-8000-000000000002')
    where id in ('a2000000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000002',
                 'c2000000-0000-4000-8000-000000000003')
$$, $$ values ('a2000000-0000-4000-8000-000000000001'::uuid) $$,
'and pages continue until the oldest');

select tests.clear_authentication();
update public.agent_mcp_connections set is_active = false, connection_status = 'disconnected'
where id = 'b2000000-0000-4000-8000-000000000002';
select tests.authenticate_as('c0000000-0000-4000-8000-000000000003');
select is_empty($$
    select id from admin_list_agent_mcp_connections(1000, null, null, true)
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, 'p_active = true leaves out disconnected connections');

select throws_ok($$ select * from admin_list_agent_mcp_connections(0) $$,
    '22023', 'limit must be between 1 and 1000', 'a page of 0 rows is refused');
select throws_ok($$ select * from admin_list_agent_mcp_connections(1001) $$,
    '22023', 'limit must be between 1 and 1000', 'a page over 1000 rows is refused');
select throws_ok($$ select * from admin_list_agent_mcp_connections(10, now(), null) $$,
    '22023', 'the page key needs both created_at and id', 'half a page key is refused');

-- Exact totals: only the fixtures' connections are left (the seed's are deleted inside
-- this transaction), so every figure is known.
select tests.clear_authentication();
delete from public.agent_mcp_connections
where id not in ('a2000000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000002',
                 'c2000000-0000-4000-8000-000000000003');
select tests.authenticate_as('c0000000-0000-4000-8000-000000000003');
select results_eq($$
    select total_connections, active_connections, connected_connections, error_connections,
           testing_connections, disconnected_connections, users, agents, servers,
           last_connection_used, first_connection_created
    from admin_agent_mcp_connection_stats()
$$, $$ values (3::bigint, 2::bigint, 0::bigint, 0::bigint, 0::bigint, 1::bigint, 3::bigint,
               3::bigint, 1::bigint, '2026-01-02 10:00:00+00'::timestamptz,
               '2026-01-01 10:00:00+00'::timestamptz) $$,
'an admin reads exact totals over every user''s connections');

-- =============================================================================
-- Non-admin user (a0)
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select ok(not is_admin(), 'is_admin() is false for a user without the role');
select throws_ok($$ select * from admin_list_agent_mcp_connections() $$,
    'PT403', 'This needs the admin role.', 'a non-admin cannot list every connection');
select throws_ok($$ select * from admin_agent_mcp_connection_stats() $$,
    'PT403', 'This needs the admin role.', 'a non-admin cannot read the totals');

-- =============================================================================
-- anon
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as_anon();

select throws_ok($$ select * from admin_list_agent_mcp_connections() $$,
    '42501', 'permission denied for function admin_list_agent_mcp_connections', 'anon cannot call the admin list');
select throws_ok($$ select is_admin() $$,
    '42501', 'permission denied for function is_admin', 'anon cannot call is_admin()');

select tests.clear_authentication();
select * from finish();
rollback;
