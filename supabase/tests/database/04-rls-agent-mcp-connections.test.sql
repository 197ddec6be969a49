-- Row Level Security of agent_mcp_connections, one block per acting role.
begin;
select plan(30);
\ir _helpers.psql

-- =============================================================================
-- Owner (a0): their agent's connections, nothing else
-- =============================================================================
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select results_eq(
    $$ select id from public.agent_mcp_connections order by id $$,
    $$ values ('a2000000-0000-4000-8000-000000000001'::uuid) $$,
    'the owner sees exactly their own connection'
);
select is_empty(
    $$ select id from public.agent_mcp_connections where id = 'b2000000-0000-4000-8000-000000000002' $$,
    'the owner cannot see another user''s connection, even by id'
);
select lives_ok($$
    insert into public.agent_mcp_connections (id, agent_id, mcp_server_instance_id, connection_config)
    values ('a2000000-0000-4000-8000-0000000000b1', 'a1000000-0000-4000-8000-000000000001',
            'd0000000-0000-4000-8000-000000000002', '{"timeout": 5000}')
$$, 'the owner connects their agent to a server');
select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('b1000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000002')
$$, '42501', 'new row violates row-level security policy for table "agent_mcp_connections"',
'the owner cannot connect another user''s agent');
select results_eq($$
    update public.agent_mcp_connections set connection_config = '{"retryAttempts": 2}'
    where id = 'a2000000-0000-4000-8000-000000000001' returning connection_config
$$, $$ values ('{"retryAttempts": 2}'::jsonb) $$, 'the owner updates their connection''s config');
select is_empty($$
    update public.agent_mcp_connections set connection_config = '{"retryAttempts": 2}'
    where id = 'b2000000-0000-4000-8000-000000000002' returning id
$$, 'the owner''s update of another user''s connection touches nothing');
select throws_ok($$
    update public.agent_mcp_connections set agent_id = 'b1000000-0000-4000-8000-000000000002'
    where id = 'a2000000-0000-4000-8000-000000000001'
$$, '23514', null, 'the owner cannot move a connection to another user''s agent');
select is_empty($$
    delete from public.agent_mcp_connections where id = 'b2000000-0000-4000-8000-000000000002' returning id
$$, 'the owner cannot delete another user''s connection');
select results_eq($$
    delete from public.agent_mcp_connections where id = 'a2000000-0000-4000-8000-0000000000b1' returning id
$$, $$ values ('a2000000-0000-4000-8000-0000000000b1'::uuid) $$, 'the owner deletes their own connection');
select is_empty(
    $$ select 1 from public.agent_mcp_connections where created_by <> 'a0000000-0000-4000-8000-000000000001' $$,
    'nothing the owner can read was created by someone else'
);

-- =============================================================================
-- Other user (b0): the mirror image
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as('b0000000-0000-4000-8000-000000000002');

select results_eq(
    $$ select id from public.agent_mcp_connections $$,
    $$ values ('b2000000-0000-4000-8000-000000000002'::uuid) $$,
    'the other user sees exactly their own connection'
);
select is_empty($$
    update public.agent_mcp_connections set connection_status = 'error'
    where agent_id = 'a1000000-0000-4000-8000-000000000001' returning id
$$, 'the other user cannot change the owner''s connections');

-- =============================================================================
-- Admin (c0): through the table, only their own (admins read everything
-- through the admin functions; see 07-admin-functions)
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as('c0000000-0000-4000-8000-000000000003');

select results_eq(
    $$ select id from public.agent_mcp_connections $$,
    $$ values ('c2000000-0000-4000-8000-000000000003'::uuid) $$,
    'an admin''s table reads show their own connections'
);
select is_empty($$
    update public.agent_mcp_connections set connection_status = 'error'
    where id = 'a2000000-0000-4000-8000-000000000001' returning id
$$, 'an admin cannot change another user''s connection');
select is_empty($$
    delete from public.agent_mcp_connections where id = 'a2000000-0000-4000-8000-000000000001' returning id
$$, 'an admin cannot delete another user''s connection');
select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002')
$$, '42501', 'new row violates row-level security policy for table "agent_mcp_connections"',
'an admin cannot connect another user''s agent');

-- =============================================================================
-- A signed-in user with no agents
-- =============================================================================
select tests.clear_authentication();
insert into auth.users (id, email) values ('e0000000-0000-4000-8000-000000000005', 'nobody@tests.local');
select tests.authenticate_as('e0000000-0000-4000-8000-000000000005');

select is_empty($$ select id from public.agent_mcp_connections $$, 'a user without agents sees no connection');

-- =============================================================================
-- anon: nothing at all
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as_anon();

select throws_ok($$ select id from public.agent_mcp_connections $$,
    '42501', 'permission denied for table agent_mcp_connections', 'anon cannot read connections');
select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002')
$$, '42501', 'permission denied for table agent_mcp_connections', 'anon cannot create connections');
select throws_ok($$ update public.agent_mcp_connections set connection_status = 'error' $$,
    '42501', 'permission denied for table agent_mcp_connections', 'anon cannot update connections');
select throws_ok($$ delete from public.agent_mcp_connections $$,
    '42501', 'permission denied for table agent_mcp_connections', 'anon cannot delete connections');

-- =============================================================================
-- authenticated cannot TRUNCATE (which would ignore RLS)
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select throws_ok($$ truncate public.agent_mcp_connections $$,
    '42501', 'permission denied for table agent_mcp_connections', 'a user cannot truncate the table');

-- =============================================================================
-- service_role: bypasses RLS (the health check)
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as_service_role();

select results_eq($$
    select count(*)::int from public.agent_mcp_connections
    where id in ('a2000000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000002',
                 'c2000000-0000-4000-8000-000000000003')
$$, $$ values (3) $$, 'service_role sees every user''s connections');
select results_eq($$
    update public.agent_mcp_connections set connection_status = 'connected'
    where id in ('a2000000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000002')
    returning connection_status
$$, $$ values ('connected'), ('connected') $$, 'service_role updates any connection');
select lives_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
    values ('b1000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000002',
            'b0000000-0000-4000-8000-000000000002')
$$, 'service_role creates a connection for any agent, naming its creator');
select results_eq($$
    select created_by from public.agent_mcp_connections
    where agent_id = 'b1000000-0000-4000-8000-000000000002'
      and mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000002'
$$, $$ values ('b0000000-0000-4000-8000-000000000002'::uuid) $$, 'the named creator is kept');

-- =============================================================================
-- Forged claims: a JWT role claim does not change the database role
-- =============================================================================
select tests.clear_authentication();
select set_config('role', 'authenticated', true);
select set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-000000000001", "role": "service_role"}', true);
select results_eq(
    $$ select id from public.agent_mcp_connections $$,
    $$ values ('a2000000-0000-4000-8000-000000000001'::uuid) $$,
    'a role claim of service_role inside an authenticated session still sees only the owner''s rows'
);

select tests.clear_authentication();
select set_config('role', 'authenticated', true);
select set_config('request.jwt.claims', '{"role": "authenticated"}', true);
select is_empty(
    $$ select id from public.agent_mcp_connections $$,
    'an authenticated session without a sub sees nothing'
);
select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002')
$$, '42501', 'new row violates row-level security policy for table "agent_mcp_connections"',
'an authenticated session without a sub cannot insert');

select tests.clear_authentication();
select set_config('role', 'authenticated', true);
select set_config('request.jwt.claims', '{"sub": "not-a-uuid", "role": "authenticated"}', true);
select throws_ok(
    $$ select id from public.agent_mcp_connections $$,
    '22P02', null,
    'a malformed sub is an error, never another user''s rows'
);

select tests.clear_authentication();
select * from finish();
rollback;
