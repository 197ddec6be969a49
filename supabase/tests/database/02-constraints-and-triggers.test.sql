-- Constraints, foreign keys and triggers of agent_mcp_connections.
begin;
select plan(44);
\ir _helpers.psql

-- -----------------------------------------------------------------------------
-- One active connection per (agent, server)
-- -----------------------------------------------------------------------------
select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001')
$$, 'PT409', 'This agent already has an active connection to this MCP server.',
'a second active connection of the same agent and server is refused (already_connected)');
-- The unique index decides even without the trigger's check.
alter table public.agent_mcp_connections disable trigger trigger_agent_mcp_connections_check_write;
select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001')
$$, '23505', null, 'the partial unique index refuses a second active connection by itself');
alter table public.agent_mcp_connections enable trigger trigger_agent_mcp_connections_check_write;

select lives_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002')
$$, 'the same agent may connect to another server');

select lives_ok($$
    update public.agent_mcp_connections set is_active = false, connection_status = 'disconnected'
    where id = 'a2000000-0000-4000-8000-000000000001'
$$, 'a connection can be disconnected (soft delete)');

select lives_ok($$
    insert into public.agent_mcp_connections (id, agent_id, mcp_server_instance_id)
    values ('a2000000-0000-4000-8000-0000000000a1', 'a1000000-0000-4000-8000-000000000001',
            'd0000000-0000-4000-8000-000000000001')
$$, 'after a disconnect the pair can connect again, as a new row');

select results_eq($$
    select count(*)::int, count(*) filter (where is_active)::int
    from public.agent_mcp_connections
    where agent_id = 'a1000000-0000-4000-8000-000000000001'
      and mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000001'
$$, $$ values (2, 1) $$, 'the disconnected row is kept as history beside the active one');

-- -----------------------------------------------------------------------------
-- Check constraints
-- -----------------------------------------------------------------------------
select throws_ok($$
    update public.agent_mcp_connections set connection_status = 'broken'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '23514', null, 'connection_status outside connected/disconnected/error/testing is refused');

select throws_ok($$
    update public.agent_mcp_connections set connection_config = '{"timeout": "abc"}'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '23514', null, 'a config with a non-numeric timeout is refused by the check, not by a cast error');

select throws_ok($$
    update public.agent_mcp_connections set connection_config = '[]'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '23514', null, 'a config that is not an object is refused');

select throws_ok($$
    update public.agent_mcp_connections set connection_config = null
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '23502', null, 'connection_config cannot be null');

select throws_ok($$
    update public.agent_mcp_connections set usage_stats = '[1]'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '23514', null, 'usage_stats must be an object');

select throws_ok($$
    update public.agent_mcp_connections set connection_test_result = '"ok"'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '23514', null, 'connection_test_result must be an object when set');

select results_eq($$
    update public.agent_mcp_connections set is_active = false, connection_status = 'connected'
    where id = 'b2000000-0000-4000-8000-000000000002'
    returning connection_status
$$, $$ values ('disconnected') $$, 'a disconnected connection is always disconnected, whatever the statement says');
alter table public.agent_mcp_connections disable trigger trigger_agent_mcp_connections_guard_update;
select throws_ok($$
    update public.agent_mcp_connections set connection_status = 'connected'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '23514', null, 'and the check constraint says so too');
alter table public.agent_mcp_connections enable trigger trigger_agent_mcp_connections_guard_update;
-- (The other user's connection is active again for the tests below.)
delete from public.agent_mcp_connections where id = 'b2000000-0000-4000-8000-000000000002';
insert into public.agent_mcp_connections (id, agent_id, mcp_server_instance_id, created_by)
values ('b2000000-0000-4000-8000-000000000002', 'b1000000-0000-4000-8000-000000000002',
        'd0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000002');
select lives_ok($$
    insert into public.agent_mcp_connections (id, agent_id, mcp_server_instance_id, created_by)
    values ('b2000000-0000-4000-8000-000000000002', 'b1000000-0000-4000-8000-000000000002',
            'd0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000002')
    on conflict do nothing
$$, 'inserting an existing row again with ON CONFLICT DO NOTHING is a no-op (a seed applied twice)');

select lives_ok($$
    update public.agent_mcp_connections
    set connection_status = 'testing'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, 'an active connection can move to testing');

select lives_ok($$
    update public.agent_mcp_connections
    set connection_status = 'connected',
        connection_test_result = '{"success": true, "error": null, "latency": 12, "capabilities": ["tools"], "timestamp": "2026-01-01T00:00:00Z"}'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, 'and then to connected with a test result');

-- -----------------------------------------------------------------------------
-- Bounds of the system-maintained JSON columns (whoever writes them)
-- -----------------------------------------------------------------------------
select throws_ok($$
    update public.agent_mcp_connections set usage_stats = '{"totalRequests": -1}'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '23514', null, 'usage counters are never negative');
select throws_ok($$
    update public.agent_mcp_connections set usage_stats = '{"totalRequests": 1.5}'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '23514', null, 'request counters are integers');
select throws_ok($$
    update public.agent_mcp_connections set usage_stats = '{"planted": "x"}'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '23514', null, 'usage_stats holds only the known keys');
select throws_ok($$
    update public.agent_mcp_connections set usage_stats = jsonb_build_object('lastUsed', repeat('x', 65))
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '23514', null, 'usage_stats.lastUsed is short');
select lives_ok($$
    update public.agent_mcp_connections
    set usage_stats = '{"totalRequests": 2, "successfulRequests": 1, "failedRequests": 1, "averageResponseTime": 2.5, "totalResponseTime": 5, "bytesTransferred": 0, "lastUsed": "2026-01-01T00:00:00+00:00"}'
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, 'usage_stats as the usage function writes it is accepted');
select throws_ok($$
    update public.agent_mcp_connections
    set connection_test_result = jsonb_build_object('success', false, 'padding', repeat('x', 100000))
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, '23514', null, 'a test result larger than 96 KiB is refused');
select lives_ok($$
    update public.agent_mcp_connections
    set connection_test_result = (
        select jsonb_build_object('success', true, 'tools', jsonb_agg(repeat('t', 125)))
        from generate_series(1, 500))
    where id = 'b2000000-0000-4000-8000-000000000002'
$$, 'a test result of 64 KiB of JSON text in many small values (the probe''s largest) is stored');

-- -----------------------------------------------------------------------------
-- A server that is not running takes no new connection
-- -----------------------------------------------------------------------------
select is(
    tests.error_of($$
        insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
        values ('b1000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000003')
    $$),
    jsonb_build_object(
        'sqlstate', 'PT409',
        'message', 'MCP server d0000000-0000-4000-8000-000000000003 is stopped, not running; connect to it once it runs.',
        'detail', jsonb_build_object('code', 'mcp_server_not_running', 'serverStatus', 'stopped')
    ),
    'connecting to a stopped server is refused (mcp_server_not_running)'
);
select is(
    (select array_agg(s order by s) from unnest(array['pending', 'starting', 'running', 'stopped', 'error']) as s
     where agent_mcp_private.mcp_server_is_running(s)),
    array['running'],
    'only a running server takes connections'
);

-- -----------------------------------------------------------------------------
-- Foreign keys
-- -----------------------------------------------------------------------------
select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('a1000000-0000-4000-8000-0000000000ff', 'd0000000-0000-4000-8000-000000000001')
$$, '23503', null, 'a connection needs an existing agent');

select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-0000000000ff')
$$, 'PT404', 'MCP server d0000000-0000-4000-8000-0000000000ff was not found.', 'a connection needs an existing MCP server (mcp_server_not_found)');

select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
    values ('b1000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000002',
            'f0000000-0000-4000-8000-0000000000ff')
$$, '23503', null, 'created_by must be an existing user');

delete from public.agents where id = 'b1000000-0000-4000-8000-000000000002';
select is_empty($$
    select id from public.agent_mcp_connections where agent_id = 'b1000000-0000-4000-8000-000000000002'
$$, 'deleting an agent deletes its connections');

delete from public.account_tool_instances where id = 'd0000000-0000-4000-8000-000000000002';
select is_empty($$
    select id from public.agent_mcp_connections where mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000002'
$$, 'deleting an MCP server deletes its connections');
select is_empty($$
    select instance_id from public.account_tool_instance_secrets where instance_id = 'd0000000-0000-4000-8000-000000000002'
$$, 'deleting an MCP server deletes its secrets');

-- The admin agent's connection is replaced by one that service_role created on behalf
-- of the other user, who is then deleted.
update public.agent_mcp_connections set is_active = false, connection_status = 'disconnected'
where id = 'c2000000-0000-4000-8000-000000000003';
insert into public.agent_mcp_connections (id, agent_id, mcp_server_instance_id, created_by)
values ('c2000000-0000-4000-8000-0000000000c2', 'c1000000-0000-4000-8000-000000000003',
        'd0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000002');
delete from auth.users where id = 'b0000000-0000-4000-8000-000000000002';
select results_eq($$
    select created_by from public.agent_mcp_connections where id = 'c2000000-0000-4000-8000-0000000000c2'
$$, $$ values (null::uuid) $$, 'deleting the creating user keeps the connection and clears created_by');

-- -----------------------------------------------------------------------------
-- Triggers: updated_at, immutable identity, no reactivation, creator
-- -----------------------------------------------------------------------------
update public.agent_mcp_connections set updated_at = '2000-01-01' where id = 'c2000000-0000-4000-8000-0000000000c2';
select ok(
    (select updated_at > now() - interval '1 minute' from public.agent_mcp_connections
     where id = 'c2000000-0000-4000-8000-0000000000c2'),
    'updated_at is set by the trigger on every update, whatever the statement says'
);

select throws_ok($$
    update public.agent_mcp_connections set agent_id = 'a1000000-0000-4000-8000-000000000001'
    where id = 'c2000000-0000-4000-8000-0000000000c2'
$$, '23514', 'agent_id cannot be changed; connect the other agent instead', 'agent_id never changes');

select throws_ok($$
    update public.agent_mcp_connections set mcp_server_instance_id = gen_random_uuid()
    where id = 'c2000000-0000-4000-8000-0000000000c2'
$$, '23514', 'mcp_server_instance_id cannot be changed; connect the other server instead', 'mcp_server_instance_id never changes');

select throws_ok($$
    update public.agent_mcp_connections set created_by = 'a0000000-0000-4000-8000-000000000001'
    where id = 'c2000000-0000-4000-8000-0000000000c2'
$$, '23514', 'created_by cannot be changed', 'created_by never changes, not even for service_role');

select throws_ok($$
    update public.agent_mcp_connections set created_at = created_at - interval '1 day'
    where id = 'c2000000-0000-4000-8000-0000000000c2'
$$, '23514', 'created_at cannot be changed', 'created_at never changes');

select throws_ok($$
    update public.agent_mcp_connections set id = gen_random_uuid()
    where id = 'c2000000-0000-4000-8000-0000000000c2'
$$, '23514', 'id cannot be changed', 'id never changes');

select throws_ok($$
    update public.agent_mcp_connections set is_active = true
    where id = 'c2000000-0000-4000-8000-000000000003'
$$, '23514', 'a disconnected connection cannot be reactivated; connect again', 'a disconnected connection is never reactivated');

select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select throws_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001',
            'c0000000-0000-4000-8000-000000000003')
$$, '42501', 'permission denied for table agent_mcp_connections', 'a user cannot create a connection in another user''s name (no privilege on created_by)');

select tests.clear_authentication();
update public.agent_mcp_connections set is_active = false, connection_status = 'disconnected'
where id = 'a2000000-0000-4000-8000-0000000000a1';
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select lives_ok($$
    insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001')
$$, 'a user creates a connection for their own agent');

select results_eq($$
    select created_by, connection_status, is_active, connection_config, usage_stats
    from public.agent_mcp_connections
    where agent_id = 'a1000000-0000-4000-8000-000000000001'
      and mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000001' and is_active
$$, $$ values ('a0000000-0000-4000-8000-000000000001'::uuid, 'disconnected', true, '{}'::jsonb, '{}'::jsonb) $$,
'a new connection: created_by is the caller, status disconnected, active, empty config and stats');

select tests.clear_authentication();

select ok(
    (select updated_at = created_at from public.agent_mcp_connections
     where agent_id = 'a1000000-0000-4000-8000-000000000001'
       and mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000001' and is_active),
    'a new row starts with updated_at = created_at'
);

select * from finish();
rollback;
