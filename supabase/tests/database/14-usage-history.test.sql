-- Usage history: hourly and daily buckets, the cumulative latency histogram and its
-- percentiles, the writer, the fold of old hours, the report functions, and who may
-- read what.
begin;
select plan(39);
\ir _helpers.psql

-- =============================================================================
-- The percentile of a cumulative latency histogram
-- =============================================================================

select is(agent_mcp_private.latency_percentile('{0,0,0,0,0,10,10,10,10,10,10,10,10,10,10,10}', 0.5), 35.000,
    'a percentile is interpolated inside the bucket that holds it (20..50 ms)');
select is(agent_mcp_private.latency_percentile('{0,0,0,4,4,4,4,4,4,4,4,4,4,4,4,4}', 0.5), 7.500,
    'the rank counts from the buckets below (2 of 4 in 5..10 ms)');
select is(agent_mcp_private.latency_percentile('{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,4}', 0.99), 60000.000,
    'the open last bucket is reported at its lower bound');
select is(agent_mcp_private.latency_percentile('{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}', 0.5), null,
    'an empty histogram has no percentile');
select is(agent_mcp_private.latency_percentile('{1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1}', 1.5), null,
    'p must lie in (0, 1]');

-- =============================================================================
-- Buckets: fixtures written as the module's writer leaves them (hours, and their days)
-- =============================================================================

-- (connection, agent, hour, requests, successes, failures, bytes, response time,
--  the bucket every request's latency fell in: 0 = under 1 ms .. 5 = 20..50 ms)
create temporary table fixture_hours as
select connection_id::uuid, agent_id::uuid, bucket_start, requests::bigint, successes::bigint,
       failures::bigint, bytes::numeric, response_time_ms::numeric, latency_bucket
from (values
    -- the owner's connection: two recent hours and two hours of a day 40 days ago
    ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001',
     date_trunc('hour', now() - interval '2 hours'), 10, 9, 1, 1000, 420, 5),
    ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001',
     date_trunc('hour', now() - interval '1 hour'), 4, 4, 0, 400, 40, 3),
    ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001',
     date_trunc('day', now() - interval '40 days') + interval '3 hours', 5, 5, 0, 50, 5, 0),
    ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001',
     date_trunc('day', now() - interval '40 days') + interval '7 hours', 3, 2, 1, 30, 3, 0),
    -- the other user's connection (the control row)
    ('b2000000-0000-4000-8000-000000000002', 'b1000000-0000-4000-8000-000000000002',
     date_trunc('hour', now() - interval '1 hour'), 99, 99, 0, 9900, 990, 3)
) as f (connection_id, agent_id, bucket_start, requests, successes, failures, bytes,
        response_time_ms, latency_bucket);

insert into public.agent_mcp_connection_usage_buckets
    (connection_id, agent_id, granularity, bucket_start, requests, successes, failures, bytes,
     response_time_ms,
     requests_under_1ms, requests_under_2ms, requests_under_5ms, requests_under_10ms, requests_under_20ms,
     requests_under_50ms, requests_under_100ms, requests_under_200ms, requests_under_500ms, requests_under_1s,
     requests_under_2s, requests_under_5s, requests_under_10s, requests_under_30s, requests_under_60s)
select f.connection_id, f.agent_id, g.granularity,
       date_trunc(g.granularity, f.bucket_start at time zone 'UTC') at time zone 'UTC',
       sum(f.requests), sum(f.successes), sum(f.failures), sum(f.bytes), sum(f.response_time_ms),
       sum(case when f.latency_bucket <= 0 then f.requests else 0 end), sum(case when f.latency_bucket <= 1 then f.requests else 0 end),
       sum(case when f.latency_bucket <= 2 then f.requests else 0 end), sum(case when f.latency_bucket <= 3 then f.requests else 0 end),
       sum(case when f.latency_bucket <= 4 then f.requests else 0 end), sum(case when f.latency_bucket <= 5 then f.requests else 0 end),
       sum(case when f.latency_bucket <= 6 then f.requests else 0 end), sum(case when f.latency_bucket <= 7 then f.requests else 0 end),
       sum(case when f.latency_bucket <= 8 then f.requests else 0 end), sum(case when f.latency_bucket <= 9 then f.requests else 0 end),
       sum(case when f.latency_bucket <= 10 then f.requests else 0 end), sum(case when f.latency_bucket <= 11 then f.requests else 0 end),
       sum(case when f.latency_bucket <= 12 then f.requests else 0 end), sum(case when f.latency_bucket <= 13 then f.requests else 0 end),
       sum(case when f.latency_bucket <= 14 then f.requests else 0 end)
from fixture_hours as f
cross join (values ('hour'), ('day')) as g (granularity)
group by 1, 2, 3, 4;

select throws_ok($$
    insert into public.agent_mcp_connection_usage_buckets
        (connection_id, agent_id, granularity, bucket_start, requests, successes, failures)
    values ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'hour',
            date_trunc('hour', now()) + interval '5 minutes', 1, 1, 0)
$$, '23514', null, 'a bucket must start on the hour');
select throws_ok($$
    insert into public.agent_mcp_connection_usage_buckets
        (connection_id, agent_id, granularity, bucket_start, requests, successes, failures)
    values ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'hour',
            date_trunc('hour', now()), 2, 1, 0)
$$, '23514', null, 'successes and failures must add up to requests');
select throws_ok($$
    insert into public.agent_mcp_connection_usage_buckets
        (connection_id, agent_id, granularity, bucket_start, requests, successes, failures,
         requests_under_1ms, requests_under_2ms)
    values ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'hour',
            date_trunc('hour', now()), 2, 2, 0, 2, 1)
$$, '23514', null, 'the latency histogram is cumulative: each count holds the one before it');
select throws_ok($$
    insert into public.agent_mcp_connection_usage_buckets
        (connection_id, agent_id, granularity, bucket_start, requests, successes, failures,
         requests_under_60s)
    values ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'hour',
            date_trunc('hour', now()), 1, 1, 0, 2)
$$, '23514', null, 'the latency histogram counts no more than the requests');

-- =============================================================================
-- Owner (a0)
-- =============================================================================
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select results_eq($$
    select granularity, sum(requests)::int from public.agent_mcp_connection_usage_buckets
    group by granularity order by granularity
$$, $$ values ('day', 22), ('hour', 22) $$,
'the owner reads the buckets of their own agents only, hours and days adding up alike');

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
    select connection_id, requests, latency_p95_ms
    from agent_mcp_usage_by_connection(now() - interval '1 day', now())
$$, $$ values ('a2000000-0000-4000-8000-000000000001'::uuid, 14::bigint, 50.000) $$,
'usage per connection over the last day, with the p95 of its summed histogram');
select results_eq($$
    select requests from agent_mcp_usage_by_connection(now() - interval '60 days', now())
$$, $$ values (22::bigint) $$, 'usage per connection over 60 days: whole days from the daily buckets');
select results_eq($$
    select requests from agent_mcp_usage_by_connection(
        date_trunc('day', now() - interval '40 days') + interval '5 hours', now())
$$, $$ values (17::bigint) $$,
'a range starting within a day counts that day''s hours in the range while they are kept');

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
        (connection_id, agent_id, granularity, bucket_start, requests, successes, failures)
    values ('a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'hour',
            date_trunc('hour', now()), 1000000, 1000000, 0)
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
-- The writer: the owner records usage; this hour's and this day's buckets get it
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select lives_ok($$
    select record_agent_mcp_connection_usage('a2000000-0000-4000-8000-000000000001', '[
        {"success": true, "responseTimeMs": 0, "bytesTransferred": 1},
        {"success": true, "responseTimeMs": 0.5, "bytesTransferred": 1},
        {"success": true, "responseTimeMs": 1, "bytesTransferred": 1},
        {"success": false, "responseTimeMs": 42, "bytesTransferred": 1},
        {"success": true, "responseTimeMs": 60000, "bytesTransferred": 1},
        {"success": true, "responseTimeMs": 3600000, "bytesTransferred": 1}]')
$$, 'the owner records six events');
select results_eq($$
    select requests, successes, failures, requests_under_1ms, requests_under_2ms, requests_under_20ms,
           requests_under_50ms, requests_under_30s, requests_under_60s
    from public.agent_mcp_connection_usage_buckets
    where connection_id = 'a2000000-0000-4000-8000-000000000001' and granularity = 'hour'
      and bucket_start = date_trunc('hour', now())
$$, $$ values (6::bigint, 5::bigint, 1::bigint, 2::bigint, 3::bigint, 3::bigint, 4::bigint, 4::bigint, 4::bigint) $$,
'this hour''s bucket counts each latency under every bound above it (bounds are exclusive)');
select results_eq($$
    select granularity, sum(requests)::int, sum(requests_under_50ms)::int, sum(bytes)::int
    from public.agent_mcp_connection_usage_buckets
    where connection_id = 'a2000000-0000-4000-8000-000000000001'
    group by granularity order by granularity
$$, $$ values ('day', 28, 26, 1486), ('hour', 28, 26, 1486) $$,
'the day''s bucket got the same events: hours and days still add up alike');

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
    'the fold deletes the hourly buckets older than the window');
select results_eq($$
    select granularity, requests, successes, failures, bytes, response_time_ms, requests_under_1ms,
           requests_under_60s
    from public.agent_mcp_connection_usage_buckets
    where connection_id = 'a2000000-0000-4000-8000-000000000001'
      and bucket_start < now() - interval '30 days'
$$, $$ values ('day', 8::bigint, 7::bigint, 1::bigint, 80::numeric, 8::numeric, 8::bigint, 8::bigint) $$,
'their day stays, in its daily bucket with their sums and histogram');
select is(fold_agent_mcp_usage_buckets('30 days'), 0::bigint, 'folding again finds nothing');
select results_eq($$
    select count(*) > 0, sum(requests) from agent_mcp_private.agent_usage_days
    where agent_id = 'a1000000-0000-4000-8000-000000000001'
$$, $$
    select true, sum(requests) from public.agent_mcp_connection_usage_buckets
    where agent_id = 'a1000000-0000-4000-8000-000000000001' and granularity = 'day'
      and bucket_start < date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'
$$, 'the fold rolls each agent''s days that are over up from their daily buckets');
select tests.clear_authentication();
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select results_eq($$
    select requests from agent_mcp_usage_by_connection(
        date_trunc('day', now() - interval '40 days') + interval '5 hours', now())
$$, $$ values (28::bigint) $$,
'once that day''s hours are gone, a range starting within it counts the whole day');
select results_eq($$
    select sum(requests)::int from agent_mcp_usage_series(now() - interval '60 days', now(), 'day')
$$, $$ values (28) $$, 'the daily totals read the rolled-up days, and today''s buckets');

-- A write into a day already rolled up (a transaction that began before midnight), as
-- the writer makes it: it adds to the daily bucket and clears rolled_up.
select tests.clear_authentication();
update public.agent_mcp_connection_usage_buckets
set requests = requests + 5, successes = successes + 5, rolled_up = false
where connection_id = 'a2000000-0000-4000-8000-000000000001' and granularity = 'day'
  and bucket_start < now() - interval '30 days';
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select results_eq($$
    select sum(requests)::int from agent_mcp_usage_series(now() - interval '60 days', now(), 'day')
$$, $$ values (33) $$,
'a daily bucket written after its day was rolled up counts in place of the stale rolled-up day');

select tests.clear_authentication();
delete from public.agent_mcp_connections where id = 'a2000000-0000-4000-8000-000000000001';
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select results_eq($$
    select (select count(*)::int from agent_mcp_private.agent_usage_days),
           (select sum(requests)::int from agent_mcp_usage_series(now() - interval '60 days', now(), 'day'))
$$, $$ values (0, 0) $$,
'deleting a connection drops its agent''s rolled-up days with its buckets');
select tests.clear_authentication();
select throws_ok($$ select fold_agent_mcp_usage_buckets('1 hour') $$,
    '22023', 'keep hourly buckets for at least one day', 'a window under a day is refused');

select * from finish();
rollback;
