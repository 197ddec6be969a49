-- record_agent_mcp_connection_usage(): atomic, validated, under the caller's RLS.
begin;
select plan(23);
\ir _helpers.psql

-- =============================================================================
-- Owner (a0)
-- =============================================================================
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select results_eq($$
    select record_agent_mcp_connection_usage(
        'a2000000-0000-4000-8000-000000000001',
        '[{"success": true, "responseTimeMs": 100, "bytesTransferred": 2048}]'
    ) - 'lastUsed'
$$, $$ values ('{"totalRequests": 1, "successfulRequests": 1, "failedRequests": 0,
                 "totalResponseTime": 100, "averageResponseTime": 100.000,
                 "bytesTransferred": 2048}'::jsonb) $$,
'one event starts the statistics');

select results_eq($$
    select record_agent_mcp_connection_usage(
        'a2000000-0000-4000-8000-000000000001',
        '[{"success": false, "responseTimeMs": 300, "bytesTransferred": 0},
          {"success": true, "responseTimeMs": 200.5, "bytesTransferred": 1000}]'
    ) - 'lastUsed'
$$, $$ values ('{"totalRequests": 3, "successfulRequests": 2, "failedRequests": 1,
                 "totalResponseTime": 600.5, "averageResponseTime": 200.167,
                 "bytesTransferred": 3048}'::jsonb) $$,
'a batch adds to the totals; the average covers every request');

select ok(
    (select last_used = now() and (usage_stats ->> 'lastUsed')::timestamptz = now()
     from public.agent_mcp_connections where id = 'a2000000-0000-4000-8000-000000000001'),
    'last_used and usageStats.lastUsed are set to the time of recording'
);

select results_eq($$
    select (record_agent_mcp_connection_usage(
        'a2000000-0000-4000-8000-000000000001',
        (select jsonb_agg('{"success": true, "responseTimeMs": 1, "bytesTransferred": 1}'::jsonb)
         from generate_series(1, 1000))
    ) ->> 'totalRequests')::int
$$, $$ values (1003) $$, 'a batch of 1000 events is recorded');

select throws_ok($$
    select record_agent_mcp_connection_usage(
        'a2000000-0000-4000-8000-000000000001',
        (select jsonb_agg('{"success": true, "responseTimeMs": 1, "bytesTransferred": 1}'::jsonb)
         from generate_series(1, 1001))
    )
$$, '22023', 'events must hold 1 to 1000 events, got 1001', 'more than 1000 events are refused');
select throws_ok($$ select record_agent_mcp_connection_usage('a2000000-0000-4000-8000-000000000001', '[]') $$,
    '22023', 'events must hold 1 to 1000 events, got 0', 'an empty batch is refused');
select throws_ok($$ select record_agent_mcp_connection_usage('a2000000-0000-4000-8000-000000000001', '{"success": true}') $$,
    '22023', 'events must be a JSON array', 'events must be an array');
select throws_ok($$
    select record_agent_mcp_connection_usage('a2000000-0000-4000-8000-000000000001',
        '[{"success": true, "responseTimeMs": 1, "bytesTransferred": 1},
          {"success": "yes", "responseTimeMs": 1, "bytesTransferred": 1}]')
$$, '22023', 'event 1 is not a valid usage event', 'a non-boolean success is refused, naming the event');
select throws_ok($$
    select record_agent_mcp_connection_usage('a2000000-0000-4000-8000-000000000001',
        '[{"success": true, "responseTimeMs": -1, "bytesTransferred": 1}]')
$$, '22023', 'event 0 is not a valid usage event', 'a negative response time is refused');
select throws_ok($$
    select record_agent_mcp_connection_usage('a2000000-0000-4000-8000-000000000001',
        '[{"success": true, "responseTimeMs": "fast", "bytesTransferred": 1}]')
$$, '22023', 'event 0 is not a valid usage event', 'a non-numeric response time is refused, not a cast error');
select throws_ok($$
    select record_agent_mcp_connection_usage('a2000000-0000-4000-8000-000000000001',
        '[{"success": true, "responseTimeMs": 1, "bytesTransferred": 1.5}]')
$$, '22023', 'event 0 is not a valid usage event', 'fractional bytes are refused');
select throws_ok($$
    select record_agent_mcp_connection_usage('a2000000-0000-4000-8000-000000000001',
        '[{"success": true, "responseTimeMs": 1, "bytesTransferred": 1, "extra": 1}]')
$$, '22023', 'event 0 is not a valid usage event', 'unknown event fields are refused');
select results_eq($$
    select (usage_stats ->> 'totalRequests')::int from public.agent_mcp_connections
    where id = 'a2000000-0000-4000-8000-000000000001'
$$, $$ values (1003) $$, 'refused batches change nothing');

select throws_ok($$
    select record_agent_mcp_connection_usage('b2000000-0000-4000-8000-000000000002',
        '[{"success": true, "responseTimeMs": 1, "bytesTransferred": 1}]')
$$, 'PT404', 'Connection b2000000-0000-4000-8000-000000000002 was not found.',
'usage for another user''s connection is "not found"');

update public.agent_mcp_connections set is_active = false
where id = 'a2000000-0000-4000-8000-000000000001';
select throws_ok($$
    select record_agent_mcp_connection_usage('a2000000-0000-4000-8000-000000000001',
        '[{"success": true, "responseTimeMs": 1, "bytesTransferred": 1}]')
$$, 'PT409', 'Connection a2000000-0000-4000-8000-000000000001 is disconnected; connect the agent again to use it.',
'usage for a disconnected connection is refused');

-- =============================================================================
-- Stored statistics are bounded: junk or negative counters cannot be stored, so
-- recording never divides by zero (issue 12: {"totalRequests": -1} made it fail)
-- =============================================================================
select tests.clear_authentication();
select throws_ok($$
    update public.agent_mcp_connections
    set usage_stats = '{"totalRequests": "many", "bytesTransferred": 10, "custom": "kept"}'
    where id = 'c2000000-0000-4000-8000-000000000003'
$$, '23514', null, 'non-numeric counters and unknown keys cannot be stored, not even by the table owner');
select throws_ok($$
    update public.agent_mcp_connections set usage_stats = '{"totalRequests": -1}'
    where id = 'c2000000-0000-4000-8000-000000000003'
$$, '23514', null, 'a negative request count cannot be stored');
select tests.authenticate_as('c0000000-0000-4000-8000-000000000003');
select throws_ok($$
    update public.agent_mcp_connections set usage_stats = '{"totalRequests": -1}'
    where id = 'c2000000-0000-4000-8000-000000000003'
$$, '42501', 'permission denied for table agent_mcp_connections', 'and a user cannot write usage_stats at all');
select results_eq($$
    select record_agent_mcp_connection_usage('c2000000-0000-4000-8000-000000000003',
        '[{"success": true, "responseTimeMs": 10, "bytesTransferred": 5}]')
        - 'lastUsed'
$$, $$ values ('{"totalRequests": 1, "successfulRequests": 1, "failedRequests": 0,
                 "totalResponseTime": 10, "averageResponseTime": 10.000,
                 "bytesTransferred": 5}'::jsonb) $$,
'the first event of a connection starts every counter');

-- =============================================================================
-- anon and service_role
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as_anon();
select throws_ok($$
    select record_agent_mcp_connection_usage('b2000000-0000-4000-8000-000000000002',
        '[{"success": true, "responseTimeMs": 1, "bytesTransferred": 1}]')
$$, '42501', 'permission denied for function record_agent_mcp_connection_usage', 'anon cannot record usage');

select tests.clear_authentication();
select tests.authenticate_as_service_role();
select results_eq($$
    select (record_agent_mcp_connection_usage('b2000000-0000-4000-8000-000000000002',
        '[{"success": true, "responseTimeMs": 1, "bytesTransferred": 1}]') ->> 'totalRequests')::int
$$, $$ values (1) $$, 'service_role records usage for any connection');

-- =============================================================================
-- The function is one UPDATE: no read-modify-write from outside
-- =============================================================================
select tests.clear_authentication();
select ok(
    (select prosrc !~* 'update public\.'
     from pg_proc where oid = 'public.record_agent_mcp_connection_usage(uuid, jsonb)'::regprocedure),
    'the public function writes nothing itself: it finds and locks the row under RLS'
);
select is(
    (select count(*)::int from regexp_matches(
        (select prosrc from pg_proc where oid = 'agent_mcp_private.add_connection_usage(uuid, jsonb)'::regprocedure),
        'update public\.agent_mcp_connections\M', 'gi')),
    1,
    'the private writer adds the events to the connection in one UPDATE'
);

select * from finish();
rollback;
