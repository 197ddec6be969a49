-- begin/finish_agent_mcp_connection_test(): the writes around a probe, under the caller's RLS.
begin;
select plan(17);
\ir _helpers.psql

select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select results_eq($$
    select previous_status, connection_config, mcp_server_url
    from begin_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001')
$$, $$ values ('disconnected', '{"timeout": 30000}'::jsonb, 'http://127.0.0.1:9/mcp') $$,
'begin returns the previous status, the config and the server URL');
select results_eq(
    $$ select connection_status from agent_mcp_connections where id = 'a2000000-0000-4000-8000-000000000001' $$,
    $$ values ('testing') $$,
    'and marks the connection testing'
);

select results_eq($$
    select connection_status, connection_test_result ->> 'latency'
    from finish_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001',
        '{"success": true, "error": null, "latency": 12}')
$$, $$ values ('connected', '12') $$, 'a successful result is stored and the status is connected');

select begin_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001');
select results_eq($$
    select connection_status
    from finish_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001',
        '{"success": false, "error": {"class": "refused", "message": "no"}}')
$$, $$ values ('error') $$, 'a failed result sets error');

select begin_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001');
select results_eq($$
    select connection_status, connection_test_result ->> 'success'
    from finish_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001', null, 'connected')
$$, $$ values ('connected', 'false') $$,
'a cancelled test (no result) puts the given status back and keeps the last result');

select results_eq($$
    select connection_status
    from finish_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001', null, 'error')
$$, $$ values ('connected') $$, 'restoring only touches a connection that is still testing');

select throws_ok($$
    select finish_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001', '{"ok": true}')
$$, '22023', 'a test result is an object with a boolean "success"', 'a result without success is refused');
select throws_ok($$
    select finish_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001', null, 'testing')
$$, '22023', 'restore status must be connected, disconnected or error', 'testing is not a status to restore');

-- A connection disconnected while its test runs ends disconnected, with the result kept.
select begin_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001');
update agent_mcp_connections set is_active = false
where id = 'a2000000-0000-4000-8000-000000000001';
select results_eq($$
    select connection_status, is_active, connection_test_result ->> 'success'
    from finish_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001', '{"success": true}')
$$, $$ values ('disconnected', false, 'true') $$,
'a test that ends after a disconnect leaves the connection disconnected');

select throws_ok($$ select begin_agent_mcp_connection_test('a2000000-0000-4000-8000-000000000001') $$,
    'PT409', 'Connection a2000000-0000-4000-8000-000000000001 is disconnected; connect the agent again to use it.',
    'a disconnected connection cannot be tested');
select throws_ok($$ select begin_agent_mcp_connection_test('b2000000-0000-4000-8000-000000000002') $$,
    'PT404', 'Connection b2000000-0000-4000-8000-000000000002 was not found.',
    'another user''s connection is not found');
select throws_ok($$ select finish_agent_mcp_connection_test('b2000000-0000-4000-8000-000000000002', '{"success": true}') $$,
    'PT404', 'Connection b2000000-0000-4000-8000-000000000002 was not found.',
    'another user''s connection cannot get a result');

-- A server that is not running (or has no URL) is not probed, and nothing changes.
select tests.clear_authentication();
update public.account_tool_instances set status_on_toolbox = 'running'
where id = 'd0000000-0000-4000-8000-000000000003';
insert into public.agent_mcp_connections (id, agent_id, mcp_server_instance_id, created_by) values
    ('a2000000-0000-4000-8000-0000000000f3', 'a1000000-0000-4000-8000-000000000001',
     'd0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000001');
update public.account_tool_instances set status_on_toolbox = 'pending'
where id = 'd0000000-0000-4000-8000-000000000003';
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select is(
    tests.error_of($$ select begin_agent_mcp_connection_test('a2000000-0000-4000-8000-0000000000f3') $$),
    jsonb_build_object(
        'sqlstate', 'PT409',
        'message', 'MCP server d0000000-0000-4000-8000-000000000003 is pending, not running; test the connection once it runs.',
        'detail', jsonb_build_object('code', 'mcp_server_not_running', 'serverStatus', 'pending')
    ),
    'a connection to a server that is not running cannot be tested (mcp_server_not_running)'
);
select results_eq(
    $$ select connection_status, connection_test_result from agent_mcp_connections
       where id = 'a2000000-0000-4000-8000-0000000000f3' $$,
    $$ values ('disconnected', null::jsonb) $$,
    'and the refused test changed nothing'
);
select tests.clear_authentication();
update public.account_tool_instances set status_on_toolbox = 'running', mcp_server_url = null
where id = 'd0000000-0000-4000-8000-000000000003';
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select is(
    tests.error_of($$ select begin_agent_mcp_connection_test('a2000000-0000-4000-8000-0000000000f3') $$)
        -> 'detail' ->> 'code',
    'mcp_server_unreachable',
    'a server without a URL cannot be tested (mcp_server_unreachable)'
);
select is(
    tests.error_of($$ select begin_agent_mcp_connection_test('b2000000-0000-4000-8000-000000000002') $$),
    jsonb_build_object(
        'sqlstate', 'PT404',
        'message', 'Connection b2000000-0000-4000-8000-000000000002 was not found.',
        'detail', jsonb_build_object('code', 'connection_not_found')
    ),
    'the error contract: PT404 with the API code in DETAIL'
);

select tests.clear_authentication();
select tests.authenticate_as_anon();
select throws_ok($$ select begin_agent_mcp_connection_test('b2000000-0000-4000-8000-000000000002') $$,
    '42501', 'permission denied for function begin_agent_mcp_connection_test', 'anon cannot start tests');

select tests.clear_authentication();
select * from finish();
rollback;
