-- Row Level Security of agent_mcp_connections, one block per acting role.
begin;
select plan(43);
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
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, connection_config)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002',
            '{"timeout": 5000}')
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
$$, '42501', 'permission denied for table agent_mcp_connections',
'the owner cannot move a connection to another user''s agent');
select is_empty($$
    delete from public.agent_mcp_connections where id = 'b2000000-0000-4000-8000-000000000002' returning id
$$, 'the owner cannot delete another user''s connection');
select results_eq($$
    delete from public.agent_mcp_connections
    where agent_id = 'a1000000-0000-4000-8000-000000000001'
      and mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000002'
    returning mcp_server_instance_id
$$, $$ values ('d0000000-0000-4000-8000-000000000002'::uuid) $$, 'the owner deletes their own connection');

-- -----------------------------------------------------------------------------
-- The owner writes only what they own by intent: config, and disconnecting
-- -----------------------------------------------------------------------------
select throws_ok($$
    update public.agent_mcp_connections set usage_stats = '{"totalRequests": -1}'
    where id = 'a2000000-0000-4000-8000-000000000001'
$$, '42501', 'permission denied for table agent_mcp_connections', 'the owner cannot write usage_stats');
select throws_ok($$
    update public.agent_mcp_connections set last_used = now()
    where id = 'a2000000-0000-4000-8000-000000000001'
$$, '42501', 'permission denied for table agent_mcp_connections', 'the owner cannot write last_used');
select throws_ok($$
    update public.agent_mcp_connections set connection_status = 'connected'
    where id = 'a2000000-0000-4000-8000-000000000001'
$$, '42501', 'permission denied for table agent_mcp_connections', 'the owner cannot write connection_status');
select throws_ok($$
    update public.agent_mcp_connections set connection_test_result = '{"success": true}'
    where id = 'a2000000-0000-4000-8000-000000000001'
$$, '42501', 'permission denied for table agent_mcp_connections', 'the owner cannot write connection_test_result');
select throws_ok($$
    update public.agent_mcp_connections set updated_at = now()
    where id = 'a2000000-0000-4000-8000-000000000001'
$$, '42501', 'permission denied for table agent_mcp_connections', 'the owner cannot write updated_at');
select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, usage_stats)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002', '{}')
$$, '42501', 'permission denied for table agent_mcp_connections', 'the owner cannot set usage_stats on connect');
select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, connection_status)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002', 'connected')
$$, '42501', 'permission denied for table agent_mcp_connections', 'the owner cannot choose a status on connect');
select results_eq($$
    select usage ->> 'totalRequests'
    from record_agent_mcp_connection_usage('a2000000-0000-4000-8000-000000000001',
        '[{"success": true, "responseTimeMs": 5, "bytesTransferred": 1}]') as usage
$$, $$ values ('1') $$, 'the usage function still records the owner''s usage under RLS');
select results_eq($$
    select mcp_server_url from begin_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001')
$$, $$ values ('http://127.0.0.1:9/mcp') $$, 'the test functions still start a test of the owner''s connection');
select results_eq($$
    select connection_status from finish_agent_mcp_connection_test(
        'a2000000-0000-4000-8000-000000000001', '{"success": true}')
$$, $$ values ('connected') $$, 'and store the result');
select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002');
select results_eq($$
    update public.agent_mcp_connections set is_active = false
    where agent_id = 'a1000000-0000-4000-8000-000000000001'
      and mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000002'
    returning is_active, connection_status
$$, $$ values (false, 'disconnected') $$, 'the owner disconnects by clearing is_active; the status follows');
select throws_ok($$
    update public.agent_mcp_connections set connection_config = '{"timeout": 1000}'
    where agent_id = 'a1000000-0000-4000-8000-000000000001'
      and mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000002'
$$, 'PT409', null, 'a disconnected connection''s config is frozen (connection_inactive)');
delete from public.agent_mcp_connections
where agent_id = 'a1000000-0000-4000-8000-000000000001'
  and mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000002';
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
    update public.agent_mcp_connections set connection_config = '{"timeout": 1000}', is_active = false
    where agent_id = 'a1000000-0000-4000-8000-000000000001' returning id
$$, 'the other user cannot change the owner''s connections');
select throws_ok($$
    select record_agent_mcp_connection_usage('a2000000-0000-4000-8000-000000000001',
        '[{"success": true, "responseTimeMs": 5, "bytesTransferred": 1}]')
$$, 'PT404', 'Connection a2000000-0000-4000-8000-000000000001 was not found.',
'the other user cannot record usage on the owner''s connection (not found)');

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
    update public.agent_mcp_connections set connection_config = '{"timeout": 1000}'
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
