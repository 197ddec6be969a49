-- connect / update config / disconnect: the functions, their coded errors (the
-- contract the API maps in one table: SQLSTATE PT<status>, DETAIL {"code", ...}),
-- and the per-user limits.
begin;
select plan(27);
\ir _helpers.psql

-- Three more running servers, two more agents of the owner, and small limits for
-- this test (the function is replaced inside the test's transaction only).
insert into public.account_tool_instances (id, instance_name_on_toolbox, status_on_toolbox, mcp_server_url) values
    ('d0000000-0000-4000-8000-000000000011', 'Server eleven', 'running', 'https://eleven.example.com/mcp'),
    ('d0000000-0000-4000-8000-000000000012', 'Server twelve', 'running', 'https://twelve.example.com/mcp');
insert into public.agents (id, user_id, name) values
    ('a1000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001', 'Second agent'),
    ('a1000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000001', 'Third agent');
create or replace function agent_mcp_private.connection_limit(p_name text)
returns integer
language plpgsql
immutable
set search_path = ''
as $$
begin
    case p_name
        when 'connections_per_user' then return 5;
        when 'connections_per_agent' then return 3;
        when 'header_configs_per_server' then return 2;
        else raise exception 'unknown connection limit %', p_name using errcode = '22023';
    end case;
end;
$$;

-- =============================================================================
-- Owner (a0): connect
-- =============================================================================
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select results_eq($$
    select agent_id, mcp_server_instance_id, connection_status, is_active, connection_config, created_by
    from connect_agent_mcp_server('a1000000-0000-4000-8000-000000000001',
        'd0000000-0000-4000-8000-000000000002', '{"timeout": 5000}')
$$, $$ values ('a1000000-0000-4000-8000-000000000001'::uuid, 'd0000000-0000-4000-8000-000000000002'::uuid,
               'disconnected', true, '{"timeout": 5000}'::jsonb, 'a0000000-0000-4000-8000-000000000001'::uuid) $$,
'connect: a new active connection, disconnected until tested, created by the caller');

select is(
    tests.error_of($$ select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000001',
        'd0000000-0000-4000-8000-000000000002') $$),
    jsonb_build_object(
        'sqlstate', 'PT409',
        'message', 'This agent already has an active connection to this MCP server.',
        'detail', jsonb_build_object('code', 'already_connected', 'connectionId', (
            select id from public.agent_mcp_connections
            where agent_id = 'a1000000-0000-4000-8000-000000000001'
              and mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000002' and is_active))
    ),
    'connect again: PT409 already_connected with the active connection''s id'
);
select is(
    tests.error_of($$ select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000001',
        'd0000000-0000-4000-8000-000000000003') $$),
    jsonb_build_object(
        'sqlstate', 'PT409',
        'message', 'MCP server d0000000-0000-4000-8000-000000000003 is stopped, not running; connect to it once it runs.',
        'detail', jsonb_build_object('code', 'mcp_server_not_running', 'serverStatus', 'stopped')
    ),
    'connect to a stopped server: PT409 mcp_server_not_running'
);
select is(
    tests.error_of($$ select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000001',
        'd0000000-0000-4000-8000-0000000000ff') $$),
    jsonb_build_object(
        'sqlstate', 'PT404',
        'message', 'MCP server d0000000-0000-4000-8000-0000000000ff was not found.',
        'detail', jsonb_build_object('code', 'mcp_server_not_found')
    ),
    'connect to a server that does not exist: PT404 mcp_server_not_found'
);
select is(
    tests.error_of($$ select connect_agent_mcp_server('b1000000-0000-4000-8000-000000000002',
        'd0000000-0000-4000-8000-000000000002') $$),
    jsonb_build_object(
        'sqlstate', 'PT404',
        'message', 'Agent b1000000-0000-4000-8000-000000000002 was not found.',
        'detail', jsonb_build_object('code', 'agent_not_found')
    ),
    'connect another user''s agent: PT404 agent_not_found (not revealed)'
);
select is(
    tests.error_of($$ select connect_agent_mcp_server('a1000000-0000-4000-8000-0000000000ff',
        'd0000000-0000-4000-8000-000000000002') $$) -> 'detail',
    '{"code": "agent_not_found"}'::jsonb,
    'connect an agent that does not exist: PT404 agent_not_found'
);
select throws_ok($$
    select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000001',
        'd0000000-0000-4000-8000-000000000011', '{"timeout": "abc"}')
$$, '23514', null, 'connect with a config the check refuses: 23514');

-- =============================================================================
-- Limits (here: 3 per agent, 5 per user, 2 distinct customHeaders per server)
-- =============================================================================
-- a1 has d1 and d2 active.
select lives_ok($$ select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000001',
    'd0000000-0000-4000-8000-000000000011') $$, 'a third connection of an agent is within the limit');
select is(
    tests.error_of($$ select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000001',
        'd0000000-0000-4000-8000-000000000012') $$),
    jsonb_build_object(
        'sqlstate', 'PT409',
        'message', 'An agent may have at most 3 active connections.',
        'detail', jsonb_build_object('code', 'connection_limit_reached', 'limit', 'connections_per_agent', 'max', 3)
    ),
    'a fourth: PT409 connection_limit_reached (connections_per_agent)'
);
select lives_ok($$ select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000002',
    'd0000000-0000-4000-8000-000000000001') $$, 'the fourth connection of the user');
select lives_ok($$ select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000002',
    'd0000000-0000-4000-8000-000000000002') $$, 'the fifth connection of the user');
select is(
    tests.error_of($$ select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000003',
        'd0000000-0000-4000-8000-000000000001') $$) -> 'detail',
    '{"code": "connection_limit_reached", "limit": "connections_per_user", "max": 5}'::jsonb,
    'a sixth: PT409 connection_limit_reached (connections_per_user)'
);
-- Disconnected connections do not count.
select lives_ok($$ select disconnect_agent_mcp_connection(id) from public.agent_mcp_connections
    where agent_id = 'a1000000-0000-4000-8000-000000000001'
      and mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000011' $$, 'a disconnect makes room');
-- On d1 the owner now uses customHeaders {} (a1, a1_2); one more distinct config is allowed.
select lives_ok($$ select update_agent_mcp_connection_config(id, '{"customHeaders": {"X-Key": "1"}}')
    from public.agent_mcp_connections
    where agent_id = 'a1000000-0000-4000-8000-000000000002'
      and mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000001' $$,
    'a second distinct customHeaders config on one server');
select is(
    tests.error_of($$ select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000003',
        'd0000000-0000-4000-8000-000000000001', '{"customHeaders": {"X-Key": "2"}}') $$) -> 'detail',
    '{"code": "connection_limit_reached", "limit": "header_configs_per_server", "max": 2}'::jsonb,
    'a third distinct customHeaders config on one server: connection_limit_reached (header_configs_per_server)'
);
select lives_ok($$ select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000003',
    'd0000000-0000-4000-8000-000000000001', '{"timeout": 1000, "customHeaders": {"X-Key": "1"}}') $$,
    'a config already in use on the server is no new one');
select is(
    tests.error_of($$ select update_agent_mcp_connection_config(id, '{"customHeaders": {"X-Key": "3"}}')
        from public.agent_mcp_connections
        where agent_id = 'a1000000-0000-4000-8000-000000000003' $$) -> 'detail',
    '{"code": "connection_limit_reached", "limit": "header_configs_per_server", "max": 2}'::jsonb,
    'changing a config to a third distinct one is refused as well'
);

-- =============================================================================
-- Owner (a0): update config, disconnect
-- =============================================================================
select results_eq($$
    select connection_config from update_agent_mcp_connection_config(
        'a2000000-0000-4000-8000-000000000001', '{"retryAttempts": 1}')
$$, $$ values ('{"retryAttempts": 1}'::jsonb) $$, 'update config: the new config is returned');
select is(
    tests.error_of($$ select update_agent_mcp_connection_config(
        'b2000000-0000-4000-8000-000000000002', '{"retryAttempts": 1}') $$),
    jsonb_build_object(
        'sqlstate', 'PT404',
        'message', 'Connection b2000000-0000-4000-8000-000000000002 was not found.',
        'detail', jsonb_build_object('code', 'connection_not_found')
    ),
    'update another user''s connection: PT404 connection_not_found'
);
select results_eq($$
    select is_active, connection_status from disconnect_agent_mcp_connection('a2000000-0000-4000-8000-000000000001')
$$, $$ values (false, 'disconnected') $$, 'disconnect: inactive and disconnected');
select results_eq($$
    select is_active, connection_status from disconnect_agent_mcp_connection('a2000000-0000-4000-8000-000000000001')
$$, $$ values (false, 'disconnected') $$, 'disconnecting twice returns the disconnected connection');
select is(
    tests.error_of($$ select update_agent_mcp_connection_config(
        'a2000000-0000-4000-8000-000000000001', '{"retryAttempts": 2}') $$),
    jsonb_build_object(
        'sqlstate', 'PT409',
        'message', 'Connection a2000000-0000-4000-8000-000000000001 is disconnected; connect the agent again to use it.',
        'detail', jsonb_build_object('code', 'connection_inactive')
    ),
    'update a disconnected connection: PT409 connection_inactive'
);
select is(
    tests.error_of($$ select disconnect_agent_mcp_connection('b2000000-0000-4000-8000-000000000002') $$) -> 'detail',
    '{"code": "connection_not_found"}'::jsonb,
    'disconnect another user''s connection: PT404 connection_not_found'
);

-- =============================================================================
-- anon; the limit names
-- =============================================================================
select tests.clear_authentication();
select results_eq($$
    select is_active, connection_config from public.agent_mcp_connections
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, $$ values (true, '{}'::jsonb) $$, 'the other user''s connection is unchanged');
select tests.authenticate_as_anon();
select throws_ok($$ select connect_agent_mcp_server('a1000000-0000-4000-8000-000000000001',
        'd0000000-0000-4000-8000-000000000012') $$,
    '42501', 'permission denied for function connect_agent_mcp_server', 'anon cannot connect');
select throws_ok($$ select disconnect_agent_mcp_connection('a2000000-0000-4000-8000-000000000001') $$,
    '42501', 'permission denied for function disconnect_agent_mcp_connection', 'anon cannot disconnect');
select tests.clear_authentication();
select throws_ok($$ select agent_mcp_private.connection_limit('connections_per_usr') $$,
    '22023', 'unknown connection limit connections_per_usr', 'a misspelt limit raises instead of meaning "no limit"');

select * from finish();
rollback;
