-- =============================================================================
-- Usage recording: one SQL function adds one event or a batch of events to a
-- connection's usage_stats and last_used in a single UPDATE. Concurrent callers
-- serialise on the row lock and each adds to the value the previous one wrote
-- (READ COMMITTED re-evaluates SET on the newest row version), so no update is
-- lost — unlike the draft's read-modify-write from the client.
--
-- SECURITY INVOKER: the caller's RLS decides which connections they may record
-- usage for; a private SECURITY DEFINER writer then changes the columns users
-- may not write themselves. Errors are the module's coded errors (PT404/PT409
-- with the API code in DETAIL, see agent_mcp_private.raise_error()), so
-- `supabase.rpc()` callers get 404 and 409, not 500.
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: usage history (hourly buckets, folded into daily ones)
-- -----------------------------------------------------------------------------
-- The usage function adds every batch to the connection's usage_stats AND to the
-- hour's bucket in the same statement, so the buckets always sum to the totals.
-- A bucket keeps counts, sums and a latency histogram with fixed bounds, from which
-- percentiles are read (agent_mcp_histogram_percentile()). Hourly buckets older than
-- the retention window are folded into daily ones by fold_agent_mcp_usage_buckets(),
-- which the scheduler runs (pg_cron on Supabase, the local stack's scheduler here).

-- The upper bounds (ms, exclusive) of the latency histogram's buckets; a 16th bucket
-- holds everything from 60 s up. Keep in step with LATENCY_BUCKET_BOUNDS_MS in
-- shared/schemas/usage_history.ts (a test compares them).
create or replace function agent_mcp_private.latency_bucket_bounds()
returns numeric[]
language sql
immutable
parallel safe
set search_path = ''
as $$
    select '{1,2,5,10,20,50,100,200,500,1000,2000,5000,10000,30000,60000}'::numeric[];
$$;

-- The histogram of a batch of (valid) usage events: 16 counts, one per bucket.
create or replace function agent_mcp_private.latency_histogram(p_events jsonb)
returns bigint[]
language sql
immutable
parallel safe
set search_path = ''
as $$
    select array_agg(coalesce(h.n, 0) order by i.bucket)
    from generate_series(0, 15) as i (bucket)
    left join (
        select width_bucket((e ->> 'responseTimeMs')::numeric,
                            agent_mcp_private.latency_bucket_bounds()) as bucket,
               count(*) as n
        from jsonb_array_elements(p_events) as e
        group by 1
    ) as h on h.bucket = i.bucket;
$$;

-- Element-wise sum of two histograms (a null one counts as empty).
create or replace function agent_mcp_private.add_histograms(a bigint[], b bigint[])
returns bigint[]
language sql
immutable
parallel safe
set search_path = ''
as $$
    select case
        when a is null then b
        when b is null then a
        else array(select x + y from unnest(a, b) as t (x, y))
    end;
$$;

-- sum_histograms(h): the element-wise sum of a column of histograms.
create or replace aggregate agent_mcp_private.sum_histograms(bigint[]) (
    sfunc = agent_mcp_private.add_histograms,
    stype = bigint[]
);

-- The p-quantile (0 < p <= 1) of the latencies a histogram counts, interpolated
-- linearly inside the bucket that holds it (so it lies in the true value's bucket);
-- null for an empty histogram.
create or replace function public.agent_mcp_histogram_percentile(p_histogram bigint[], p numeric)
returns numeric
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
declare
    bounds numeric[] := agent_mcp_private.latency_bucket_bounds();
    total numeric := 0;
    rank numeric;
    seen numeric := 0;
    count_in_bucket numeric;
    lower_bound numeric;
    upper_bound numeric;
begin
    if p_histogram is null or p is null or p <= 0 or p > 1 then
        return null;
    end if;
    select coalesce(sum(v), 0) into total from unnest(p_histogram) as v;
    if total = 0 then
        return null;
    end if;
    rank := ceil(p * total);
    for i in 1 .. cardinality(p_histogram) loop
        count_in_bucket := p_histogram[i];
        if seen + count_in_bucket >= rank and count_in_bucket > 0 then
            lower_bound := case when i = 1 then 0 else bounds[i - 1] end;
            -- The open-ended last bucket is reported at its lower bound.
            upper_bound := coalesce(bounds[i], lower_bound);
            return round(lower_bound + (upper_bound - lower_bound) * (rank - seen) / count_in_bucket, 3);
        end if;
        seen := seen + count_in_bucket;
    end loop;
    return null;
end;
$$;

comment on function public.agent_mcp_histogram_percentile(bigint[], numeric) is
    'The p-quantile of a usage latency histogram (ms), interpolated inside its bucket.';

-- One row per connection and hour (or day, once folded).
create table if not exists public.agent_mcp_connection_usage_buckets (
    connection_id uuid not null references public.agent_mcp_connections (id) on delete cascade,
    -- The connection's agent (never changes): the read policy and per-user reports use it.
    agent_id uuid not null references public.agents (id) on delete cascade,
    granularity text not null,
    bucket_start timestamptz not null,
    requests bigint not null default 0,
    successes bigint not null default 0,
    failures bigint not null default 0,
    bytes numeric not null default 0,
    response_time_ms numeric not null default 0,
    latency_histogram bigint[] not null,
    primary key (connection_id, granularity, bucket_start),
    constraint agent_mcp_usage_buckets_granularity_check check (granularity in ('hour', 'day')),
    -- Buckets start on the hour (or day) in UTC.
    constraint agent_mcp_usage_buckets_aligned_check check (
        (bucket_start at time zone 'UTC') = date_trunc(granularity, bucket_start at time zone 'UTC')
    ),
    constraint agent_mcp_usage_buckets_counts_check check (
        requests >= 0 and successes >= 0 and failures >= 0 and successes + failures = requests
        and bytes >= 0 and response_time_ms >= 0
    ),
    constraint agent_mcp_usage_buckets_histogram_check check (cardinality(latency_histogram) = 16)
);

-- A user's reports across their connections: the agents' buckets over a time range,
-- with the counts in the index so the sums read no heap pages.
create index if not exists agent_mcp_usage_buckets_agent_time_idx
    on public.agent_mcp_connection_usage_buckets (agent_id, granularity, bucket_start)
    include (requests, successes, failures, bytes, response_time_ms);
-- Admin reports over every user, and the retention fold.
create index if not exists agent_mcp_usage_buckets_time_idx
    on public.agent_mcp_connection_usage_buckets (granularity, bucket_start);

comment on table public.agent_mcp_connection_usage_buckets is
    'Usage per connection and hour (daily once older than the retention window): counts, sums, latency histogram.';

alter table public.agent_mcp_connection_usage_buckets enable row level security;

-- Written only by the module's functions; users read their own agents' buckets.
revoke all on table public.agent_mcp_connection_usage_buckets from public, anon, authenticated, service_role;
grant select on table public.agent_mcp_connection_usage_buckets to authenticated;
grant select, insert, update, delete on table public.agent_mcp_connection_usage_buckets to service_role;

drop policy if exists "Users can view usage of their agents' connections"
    on public.agent_mcp_connection_usage_buckets;
create policy "Users can view usage of their agents' connections"
    on public.agent_mcp_connection_usage_buckets
    for select to authenticated
    using (agent_id = any (array(
        select a.id from public.agents as a where a.user_id = (select auth.uid())
    )));

-- Folds hourly buckets that started before the retention window (counted back from
-- the start of today, UTC) into daily ones, in one statement; returns how many
-- hourly buckets it folded. For the scheduler (service_role).
create or replace function public.fold_agent_mcp_usage_buckets(p_keep_hourly interval default '30 days')
returns bigint
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    folded bigint;
begin
    if p_keep_hourly is null or p_keep_hourly < interval '1 day' then
        raise exception 'keep hourly buckets for at least one day' using errcode = '22023';
    end if;
    with moved as (
        delete from public.agent_mcp_connection_usage_buckets as b
        where b.granularity = 'hour'
          and b.bucket_start < (date_trunc('day', now() at time zone 'UTC') at time zone 'UTC') - p_keep_hourly
        returning b.*
    ),
    daily as (
        insert into public.agent_mcp_connection_usage_buckets as d (
            connection_id, agent_id, granularity, bucket_start, requests, successes, failures,
            bytes, response_time_ms, latency_histogram
        )
        select m.connection_id, m.agent_id, 'day',
               date_trunc('day', m.bucket_start at time zone 'UTC') at time zone 'UTC',
               sum(m.requests), sum(m.successes), sum(m.failures), sum(m.bytes),
               sum(m.response_time_ms), agent_mcp_private.sum_histograms(m.latency_histogram)
        from moved as m
        group by m.connection_id, m.agent_id, 4
        on conflict (connection_id, granularity, bucket_start) do update
        set requests = d.requests + excluded.requests,
            successes = d.successes + excluded.successes,
            failures = d.failures + excluded.failures,
            bytes = d.bytes + excluded.bytes,
            response_time_ms = d.response_time_ms + excluded.response_time_ms,
            latency_histogram = agent_mcp_private.add_histograms(d.latency_histogram, excluded.latency_histogram)
    )
    select count(*) into folded from moved;
    return folded;
end;
$$;

comment on function public.fold_agent_mcp_usage_buckets(interval) is
    'Scheduler: folds hourly usage buckets older than the window into daily ones; returns how many.';

revoke execute on function public.fold_agent_mcp_usage_buckets(interval) from public, anon, authenticated;
grant execute on function public.fold_agent_mcp_usage_buckets(interval) to service_role;
revoke execute on function public.agent_mcp_histogram_percentile(bigint[], numeric) from public, anon;
grant execute on function public.agent_mcp_histogram_percentile(bigint[], numeric) to authenticated, service_role;
revoke execute on function agent_mcp_private.latency_bucket_bounds() from public, anon;
revoke execute on function agent_mcp_private.latency_histogram(jsonb) from public, anon;
revoke execute on function agent_mcp_private.add_histograms(bigint[], bigint[]) from public, anon;
revoke execute on function agent_mcp_private.sum_histograms(bigint[]) from public, anon;
grant execute on function agent_mcp_private.latency_bucket_bounds() to authenticated, service_role;
grant execute on function agent_mcp_private.latency_histogram(jsonb) to authenticated, service_role;
grant execute on function agent_mcp_private.add_histograms(bigint[], bigint[]) to authenticated, service_role;
grant execute on function agent_mcp_private.sum_histograms(bigint[]) to authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: helpers
-- -----------------------------------------------------------------------------

-- A number from usage_stats, or 0 when the key is missing or not a number.
create or replace function public.usage_stat(stats jsonb, stat_name text)
returns numeric
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
begin
    if jsonb_typeof(stats -> stat_name) = 'number' then
        return (stats ->> stat_name)::numeric;
    end if;
    return 0;
end;
$$;

-- Signed-in users and service_role (the usage function runs it with the caller's
-- rights); not anon, nor PUBLIC.
revoke execute on function public.usage_stat(jsonb, text) from public, anon;
grant execute on function public.usage_stat(jsonb, text) to authenticated, service_role;

-- Whether a JSON value is one usage event:
--   {"success": boolean, "responseTimeMs": number 0 .. 3600000,
--    "bytesTransferred": integer 0 .. 10^12}
-- and nothing else. Never raises.
create or replace function public.is_valid_usage_event(event jsonb)
returns boolean
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
begin
    if event is null or jsonb_typeof(event) <> 'object' then
        return false;
    end if;
    if (select count(*) from jsonb_object_keys(event) as k
        where k not in ('success', 'responseTimeMs', 'bytesTransferred')) > 0 then
        return false;
    end if;
    if jsonb_typeof(event -> 'success') is distinct from 'boolean' then
        return false;
    end if;
    if jsonb_typeof(event -> 'responseTimeMs') is distinct from 'number' then
        return false;
    end if;
    if (event ->> 'responseTimeMs')::numeric not between 0 and 3600000 then
        return false;
    end if;
    return public.jsonb_is_integer_between(event -> 'bytesTransferred', 0, 1000000000000);
end;
$$;

-- Signed-in users and service_role (the usage function runs it with the caller's
-- rights); not anon, nor PUBLIC.
revoke execute on function public.is_valid_usage_event(jsonb) from public, anon;
grant execute on function public.is_valid_usage_event(jsonb) to authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: the writer (agent_mcp_private, not exposed)
-- -----------------------------------------------------------------------------

-- Adds a batch of valid events to a connection's usage_stats and last_used in one
-- UPDATE, and returns the new usage_stats. SECURITY DEFINER because users hold no
-- UPDATE privilege on these columns: it is called only by
-- record_agent_mcp_connection_usage(), after that function (with the caller's
-- rights) has found and locked the connection under the caller's RLS. PostgREST
-- does not expose this schema.
create or replace function agent_mcp_private.add_connection_usage(
    p_connection_id uuid,
    p_events jsonb
)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
    with batch as (
        select
            count(*) as requests,
            count(*) filter (where (e ->> 'success')::boolean) as successes,
            sum((e ->> 'responseTimeMs')::numeric) as response_time,
            sum((e ->> 'bytesTransferred')::numeric) as bytes
        from jsonb_array_elements(p_events) as e
    ),
    -- Counters saturate at the bound usage_stats allows (10^21) instead of failing.
    totals as (
        select
            c.id,
            least(public.usage_stat(c.usage_stats, 'totalRequests') + b.requests, 1e21) as requests,
            least(public.usage_stat(c.usage_stats, 'successfulRequests') + b.successes, 1e21) as successes,
            least(public.usage_stat(c.usage_stats, 'failedRequests') + (b.requests - b.successes), 1e21)
                as failures,
            least(public.usage_stat(c.usage_stats, 'totalResponseTime') + b.response_time, 1e21)
                as response_time,
            least(public.usage_stat(c.usage_stats, 'bytesTransferred') + b.bytes, 1e21) as bytes
        from public.agent_mcp_connections as c, batch as b
        where c.id = p_connection_id
    ),
    updated as (
        update public.agent_mcp_connections as c
        set usage_stats = c.usage_stats || jsonb_build_object(
                'totalRequests', t.requests,
                'successfulRequests', t.successes,
                'failedRequests', t.failures,
                'totalResponseTime', t.response_time,
                -- Never a division by zero, whatever was stored before.
                'averageResponseTime', coalesce(round(t.response_time / nullif(t.requests, 0), 3), 0),
                'bytesTransferred', t.bytes,
                'lastUsed', to_jsonb(now())
            ),
            last_used = now()
        from totals as t
        where c.id = t.id
        returning c.id, c.agent_id, c.usage_stats
    ),
    -- The same batch into this hour's bucket, in the same statement: the usage history
    -- always adds up to the totals.
    hour_bucket as (
        insert into public.agent_mcp_connection_usage_buckets as h (
            connection_id, agent_id, granularity, bucket_start, requests, successes, failures,
            bytes, response_time_ms, latency_histogram
        )
        select u.id, u.agent_id, 'hour', date_trunc('hour', now() at time zone 'UTC') at time zone 'UTC',
               b.requests, b.successes, b.requests - b.successes, b.bytes, b.response_time,
               agent_mcp_private.latency_histogram(p_events)
        from updated as u, batch as b
        on conflict (connection_id, granularity, bucket_start) do update
        set requests = h.requests + excluded.requests,
            successes = h.successes + excluded.successes,
            failures = h.failures + excluded.failures,
            bytes = h.bytes + excluded.bytes,
            response_time_ms = h.response_time_ms + excluded.response_time_ms,
            latency_histogram = agent_mcp_private.add_histograms(h.latency_histogram, excluded.latency_histogram)
    )
    select u.usage_stats from updated as u;
$$;

revoke execute on function agent_mcp_private.add_connection_usage(uuid, jsonb) from public, anon;
grant execute on function agent_mcp_private.add_connection_usage(uuid, jsonb) to authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: record_agent_mcp_connection_usage()
-- -----------------------------------------------------------------------------

-- Records usage events for an active connection and returns its new usage_stats.
--   p_events: a JSON array of 1 .. 1000 usage events (see is_valid_usage_event).
-- Errors: 22023 bad events (the message names the first bad one), PT404
-- connection_not_found (none visible to the caller), PT409 connection_inactive.
-- SECURITY INVOKER: the caller's RLS finds (and locks) the connection; only then
-- does the private writer add the events.
create or replace function public.record_agent_mcp_connection_usage(
    p_connection_id uuid,
    p_events jsonb
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    first_bad integer;
    found_active boolean;
begin
    if p_connection_id is null then
        raise exception 'connection id is required' using errcode = '22023';
    end if;
    if p_events is null or jsonb_typeof(p_events) <> 'array' then
        raise exception 'events must be a JSON array' using errcode = '22023';
    end if;
    if jsonb_array_length(p_events) not between 1 and 1000 then
        raise exception 'events must hold 1 to 1000 events, got %', jsonb_array_length(p_events)
            using errcode = '22023';
    end if;

    select min(e.ordinality) - 1 into first_bad
    from jsonb_array_elements(p_events) with ordinality as e (event, ordinality)
    where not public.is_valid_usage_event(e.event);
    if first_bad is not null then
        raise exception 'event % is not a valid usage event', first_bad
            using errcode = '22023',
                  hint = 'an event is {"success": boolean, "responseTimeMs": 0..3600000, "bytesTransferred": integer 0..10^12}';
    end if;

    -- Concurrent callers queue on this lock; each then adds to the newest totals.
    select c.is_active into found_active
    from public.agent_mcp_connections as c
    where c.id = p_connection_id
    for no key update;
    if not found then
        perform agent_mcp_private.raise_error(404, 'connection_not_found',
            format('Connection %s was not found.', p_connection_id));
    end if;
    if not found_active then
        perform agent_mcp_private.raise_error(409, 'connection_inactive',
            format('Connection %s is disconnected; connect the agent again to use it.', p_connection_id));
    end if;

    return agent_mcp_private.add_connection_usage(p_connection_id, p_events);
end;
$$;

comment on function public.record_agent_mcp_connection_usage(uuid, jsonb) is
    'Adds 1..1000 usage events to an active connection''s usage_stats atomically; returns the new usage_stats.';

revoke execute on function public.record_agent_mcp_connection_usage(uuid, jsonb) from public, anon;
grant execute on function public.record_agent_mcp_connection_usage(uuid, jsonb) to authenticated, service_role;
