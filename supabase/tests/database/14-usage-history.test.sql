-- Usage history: hourly buckets, the latency histogram and its percentiles, the fold
-- into daily buckets, the report functions, and who may read what.
begin;
select plan(28);
\ir _helpers.psql

-- =============================================================================
-- Histogram helpers
-- =============================================================================

select is(
    agent_mcp_private.latency_histogram(
        '[{"responseTimeMs": 0}, {"responseTimeMs": 0.5}, {"responseTimeMs": 1},
          {"responseTimeMs": 42}, {"responseTimeMs": 60000}, {"responseTimeMs": 3600000}]'),
    '{2,1,0,0,0,1,0,0,0,0,0,0,0,0,0,2}'::bigint[],
    'latency_histogram() counts each event in the bucket whose bounds hold it');
select is(agent_mcp_private.add_histograms('{1,2}', '{3,4}'), '{4,6}'::bigint[],
    'add_histograms() adds element by element');
select is(agent_mcp_private.add_histograms(null, '{3,4}'), '{3,4}'::bigint[],
    'add_histograms() treats null as empty');
select is(agent_mcp_histogram_percentile('{0,0,0,0,0,10,0,0,0,0,0,0,0,0,0,0}', 0.5), 35.000,
    'a percentile is interpolated inside the bucket that holds it (20..50 ms)');
select is(agent_mcp_histogram_percentile('{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,4}', 0.99), 60000.000,
    'the open last bucket is reported at its lower bound');
select is(agent_mcp_histogram_percentile('{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}', 0.5), null,
    'an empty histogram has no percentile');

-- =============================================================================
-- Buckets: fixtures written as the module's functions would
-- =============================================================================

insert into public.agent_mcp_connection_usage_buckets
    (connection_id, agent_id, granularity, bucket_start, requests, successes, failures, bytes,
     response_time_ms, latency_histogram)
values
    -- the owner's connection: two recent hours and one hour 40 days ago
    ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'hour',
     date_trunc('hour', now() - interval '2 hours'), 10, 9, 1, 1000, 420,
     '{0,0,0,0,0,10,0,0,0,0,0,0,0,0,0,0}'),
    ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'hour',
     date_trunc('hour', now() - interval '1 hour'), 4, 4, 0, 400, 40,
     '{0,0,0,4,0,0,0,0,0,0,0,0,0,0,0,0}'),
    ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'hour',
     date_trunc('day', now() - interval '40 days') + interval '3 hours', 5, 5, 0, 50, 5,
     '{5,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}'),
    ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'hour',
     date_trunc('day', now() - interval '40 days') + interval '7 hours', 3, 2, 1, 30, 3,
     '{3,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}'),
    -- the other user's connection (the control row)
    ('b2000000-0000-4000-8000-000000000002', 'b1000000-0000-4000-8000-000000000002', 'hour',
     date_trunc('hour', now() - interval '1 hour'), 99, 99, 0, 9900, 990,
     '{0,0,0,99,0,0,0,0,0,0,0,0,0,0,0,0}');

select throws_ok($$
    insert into public.agent_mcp_connection_usage_buckets
        (connection_id, agent_id, granularity, bucket_start, requests, successes, failures, latency_histogram)
    values ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'hour',
            date_trunc('hour', now()) + interval '5 minutes', 1, 1, 0, '{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1}')
$$, '23514', null, 'a bucket must start on the hour');
select throws_ok($$
    insert into public.agent_mcp_connection_usage_buckets
        (connection_id, agent_id, granularity, bucket_start, requests, successes, failures, latency_histogram)
    values ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'hour',
            date_trunc('hour', now()), 2, 1, 0, '{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1}')
$$, '23514', null, 'successes and failures must add up to requests');

-- =============================================================================
-- Owner (a0)
-- =============================================================================
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select results_eq($$
    select count(*)::int, sum(requests)::int from public.agent_mcp_connection_usage_buckets
$$, $$ values (4, 22) $$, 'the owner reads the buckets of their own agents only');

select results_eq($$
    select requests, successes, failures, average_latency_ms, latency_p50_ms
    from agent_mcp_connection_usage_series('a2000000-0000-4000-8000-000000000001',
        date_trunc('hour', now() - interval '2 hours'), date_trunc('hour', now()), 'hour')
$$, $$ values (10::bigint, 9::bigint, 1::bigint, 42.000, 35.000), (4::bigint, 4::bigint, 0::bigint, 10.000, 7.500) $$,
'a connection''s hourly series: one point per hour, with the histogram''s percentiles');

select is(
    (select count(*)::int from agent_mcp_connection_usage_series('a2000000-0000-4000-8000-000000000001',
        now() - interval '24 hours', now(), 'hour')),
    25, 'empty hours are points too (the partial first hour included)');

select results_eq($$
    select sum(requests)::int from agent_mcp_usage_series(now() - interval '60 days', now(), 'day')
$$, $$ values (22) $$, 'the caller''s daily totals over 60 days include every bucket of theirs');

select results_eq($$
    select connection_id, requests from agent_mcp_usage_by_connection(now() - interval '1 day', now())
$$, $$ values ('a2000000-0000-4000-8000-000000000001'::uuid, 14::bigint) $$,
'usage per connection over the last day');

select throws_ok($$
    select * from agent_mcp_connection_usage_series('b2000000-0000-4000-8000-000000000002',
        now() - interval '1 day', now(), 'hour')
$$, 'PT404', 'Connection b2000000-0000-4000-8000-000000000002 was not found.',
'another user''s connection is not found');
select throws_ok($$ select * from agent_mcp_usage_series(now() - interval '1 day', now(), 'week') $$,
    '22023', 'bucket must be hour or day', 'a bucket size other than hour or day is refused');
select throws_ok($$ select * from agent_mcp_usage_series(now(), now() - interval '1 day', 'hour') $$,
    '22023', 'from must be before to', 'a reversed range is refused');
select throws_ok($$ select * from agent_mcp_usage_series(now() - interval '60 days', now(), 'hour') $$,
    '22023', 'a report has at most 1000 hour buckets', 'more than 1000 points are refused');
select throws_ok($$ select * from admin_agent_mcp_usage_series(now() - interval '1 day', now(), 'hour') $$,
    'PT403', 'This needs the admin role.', 'a non-admin cannot read every user''s usage');

select throws_ok($$
    insert into public.agent_mcp_connection_usage_buckets
        (connection_id, agent_id, granularity, bucket_start, requests, successes, failures, latency_histogram)
    values ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'hour',
            date_trunc('hour', now()), 1000000, 1000000, 0, '{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1000000}')
$$, '42501', null, 'users cannot write buckets (usage is recorded only through the usage function)');
select throws_ok($$ update public.agent_mcp_connection_usage_buckets set requests = 0 $$,
    '42501', null, 'users cannot change buckets');
select throws_ok($$ select fold_agent_mcp_usage_buckets() $$,
    '42501', null, 'users cannot run the fold');

-- =============================================================================
-- Admin (c0)
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as('c0000000-0000-4000-8000-000000000003');

select results_eq($$
    select sum(requests)::int from admin_agent_mcp_usage_series(now() - interval '3 hours', now(), 'hour')
$$, $$ values (113) $$, 'an admin reads every user''s usage');
select results_eq($$
    select user_id, requests from admin_agent_mcp_usage_by_user(now() - interval '1 day', now())
$$, $$ values ('b0000000-0000-4000-8000-000000000002'::uuid, 99::bigint),
              ('a0000000-0000-4000-8000-000000000001'::uuid, 14::bigint) $$,
'an admin reads usage per user, busiest first');

-- =============================================================================
-- Anon and the fold (service_role)
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as_anon();
select throws_ok($$ select * from public.agent_mcp_connection_usage_buckets $$,
    '42501', null, 'anon reads no bucket');

select tests.clear_authentication();
select tests.authenticate_as_service_role();
select is(fold_agent_mcp_usage_buckets('30 days'), 2::bigint,
    'the fold moves the hourly buckets older than the window');
select results_eq($$
    select granularity, requests, successes, failures, bytes, response_time_ms, latency_histogram
    from public.agent_mcp_connection_usage_buckets
    where connection_id = 'a2000000-0000-4000-8000-000000000001'
      and bucket_start < now() - interval '30 days'
$$, $$ values ('day', 8::bigint, 7::bigint, 1::bigint, 80::numeric, 8::numeric,
               '{8,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}'::bigint[]) $$,
'into one daily bucket holding their sums and histogram');
select is(fold_agent_mcp_usage_buckets('30 days'), 0::bigint, 'folding again finds nothing');
select throws_ok($$ select fold_agent_mcp_usage_buckets('1 hour') $$,
    '22023', 'keep hourly buckets for at least one day', 'a window under a day is refused');

select * from finish();
rollback;
