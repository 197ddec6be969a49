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
-- Section: usage history (hourly and daily buckets)
-- -----------------------------------------------------------------------------
-- The usage function adds every batch to the connection's usage_stats AND to the
-- hour's and the day's bucket, in the same transaction, so each granularity always
-- sums to the totals. A bucket keeps counts, sums and a cumulative latency histogram:
-- requests_under_<bound> counts the requests faster than that bound (15 fixed
-- bounds; the rest took 60 s or more), plain columns that reports add with sum() and
-- the writer updates in place. Percentiles are read from the summed counts
-- (agent_mcp_private.latency_percentile()). Daily buckets are kept; hourly buckets
-- older than the retention window are deleted by fold_agent_mcp_usage_buckets(),
-- which the scheduler runs (pg_cron on Supabase, the local stack's scheduler here).

-- The latency histogram's bounds (ms, exclusive), one per requests_under_* column.
-- Keep in step with LATENCY_BUCKET_BOUNDS_MS in shared/schemas/usage_history.ts (a
-- test compares them).
create or replace function agent_mcp_private.latency_bucket_bounds()
returns numeric[]
language sql
immutable
parallel safe
set search_path = ''
as $$
    select '{1,2,5,10,20,50,100,200,500,1000,2000,5000,10000,30000,60000}'::numeric[];
$$;

-- The p-quantile (0 < p <= 1) of the latencies counted by a cumulative histogram:
-- p_requests_under holds the 15 requests_under_* counts, then all the requests (16
-- non-decreasing counts). Interpolated linearly inside the bucket that holds the rank
-- (so it lies in the true value's bucket); the open-ended last bucket is reported at
-- its lower bound (60 s); null when nothing was counted. No loop and no query: one
-- width_bucket() finds the bucket, so a report can call it for every point.
create or replace function agent_mcp_private.latency_percentile(p_requests_under bigint[], p numeric)
returns numeric
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
declare
    rank bigint;
    i integer;
    below bigint;
begin
    if cardinality(p_requests_under) is distinct from 16 or p is null or p <= 0 or p > 1 then
        return null;
    end if;
    rank := ceil(p * p_requests_under[16]);
    if rank is null or rank <= 0 then
        return null;
    end if;
    -- The first bucket whose cumulative count reaches the rank, and the count below it.
    i := width_bucket(rank - 1, p_requests_under) + 1;
    below := coalesce(p_requests_under[i - 1], 0);
    return round(
        ('{0,1,2,5,10,20,50,100,200,500,1000,2000,5000,10000,30000,60000}'::numeric[])[i]
        + (('{1,2,5,10,20,50,100,200,500,1000,2000,5000,10000,30000,60000,60000}'::numeric[])[i]
           - ('{0,1,2,5,10,20,50,100,200,500,1000,2000,5000,10000,30000,60000}'::numeric[])[i])
          * (rank - below) / (p_requests_under[i] - below),
        3);
end;
$$;

-- One row per connection and hour, and one per connection and day.
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
    -- Daily buckets: whether the agent's day in agent_mcp_private.agent_usage_days
    -- counts this row as it is (the fold sets it; the writer clears it on every write).
    rolled_up boolean not null default false,
    -- The cumulative latency histogram: requests faster than 1 ms, 2 ms, ... 60 s.
    requests_under_1ms bigint not null default 0,
    requests_under_2ms bigint not null default 0,
    requests_under_5ms bigint not null default 0,
    requests_under_10ms bigint not null default 0,
    requests_under_20ms bigint not null default 0,
    requests_under_50ms bigint not null default 0,
    requests_under_100ms bigint not null default 0,
    requests_under_200ms bigint not null default 0,
    requests_under_500ms bigint not null default 0,
    requests_under_1s bigint not null default 0,
    requests_under_2s bigint not null default 0,
    requests_under_5s bigint not null default 0,
    requests_under_10s bigint not null default 0,
    requests_under_30s bigint not null default 0,
    requests_under_60s bigint not null default 0,
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
    -- Cumulative: each count holds the one before it, and the requests hold them all.
    constraint agent_mcp_usage_buckets_histogram_check check (
        0 <= requests_under_1ms and
        requests_under_1ms <= requests_under_2ms and
        requests_under_2ms <= requests_under_5ms and
        requests_under_5ms <= requests_under_10ms and
        requests_under_10ms <= requests_under_20ms and
        requests_under_20ms <= requests_under_50ms and
        requests_under_50ms <= requests_under_100ms and
        requests_under_100ms <= requests_under_200ms and
        requests_under_200ms <= requests_under_500ms and
        requests_under_500ms <= requests_under_1s and
        requests_under_1s <= requests_under_2s and
        requests_under_2s <= requests_under_5s and
        requests_under_5s <= requests_under_10s and
        requests_under_10s <= requests_under_30s and
        requests_under_30s <= requests_under_60s and
        requests_under_60s <= requests
    )
)
-- The writer updates this hour's and this day's rows in place: room on the page keeps
-- those updates HOT (no index holds a column they change).
with (fillfactor = 80);

-- A user's reports across their connections: their agents' buckets over a time range.
-- No INCLUDE columns: an index on the counts would make every write a non-HOT update.
create index if not exists agent_mcp_usage_buckets_agent_time_idx
    on public.agent_mcp_connection_usage_buckets (agent_id, granularity, bucket_start);
-- Admin reports over every user, and the retention fold.
create index if not exists agent_mcp_usage_buckets_time_idx
    on public.agent_mcp_connection_usage_buckets (granularity, bucket_start);
-- The daily buckets not (or no longer) counted in their agent's rolled-up day: today's,
-- and any written after the fold rolled its day up. Small; the writer keeps its
-- updates HOT, as it only ever sets rolled_up to false where it already is.
create index if not exists agent_mcp_usage_buckets_not_rolled_up_idx
    on public.agent_mcp_connection_usage_buckets (agent_id, bucket_start)
    where granularity = 'day' and not rolled_up;

comment on table public.agent_mcp_connection_usage_buckets is
    'Usage per connection and hour (kept for the retention window) and per day: counts, sums, cumulative latency histogram.';

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

-- Each agent's usage per day, summed over its connections' daily buckets by the fold
-- for days that are over: a user's daily totals read one row per agent and day. Exact
-- at all times: a daily bucket written after its day was rolled up (rolled_up false
-- again: a late transaction, or the day being today) is read instead of its agent's
-- row for that day, until the next fold rolls the day up again; deleting daily buckets
-- (a connection deleted) drops their agents' rows for those days.
create table if not exists agent_mcp_private.agent_usage_days (
    agent_id uuid not null references public.agents (id) on delete cascade,
    day timestamptz not null,
    requests bigint not null,
    successes bigint not null,
    failures bigint not null,
    bytes numeric not null,
    response_time_ms numeric not null,
    primary key (agent_id, day)
);

comment on table agent_mcp_private.agent_usage_days is
    'Usage per agent and day, rolled up from the daily buckets by fold_agent_mcp_usage_buckets().';

alter table agent_mcp_private.agent_usage_days enable row level security;

-- Written only by the fold (service_role) and the delete trigger; the user reports
-- (SECURITY INVOKER) read the caller's agents' rows.
revoke all on table agent_mcp_private.agent_usage_days from public, anon, authenticated, service_role;
grant select on table agent_mcp_private.agent_usage_days to authenticated;
grant select, insert, update, delete on table agent_mcp_private.agent_usage_days to service_role;

drop policy if exists "Users can view the usage of their agents" on agent_mcp_private.agent_usage_days;
create policy "Users can view the usage of their agents"
    on agent_mcp_private.agent_usage_days
    for select to authenticated
    using (agent_id = any (array(
        select a.id from public.agents as a where a.user_id = (select auth.uid())
    )));

-- Daily buckets deleted (a connection deleted, or by service_role): their agents' days
-- are rolled up again from what is left. SECURITY DEFINER: whoever deletes may not
-- write the rollup.
create or replace function agent_mcp_private.unroll_deleted_usage_days()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    delete from agent_mcp_private.agent_usage_days as r
    using (select distinct d.agent_id, d.bucket_start from deleted as d where d.granularity = 'day') as k
    where r.agent_id = k.agent_id and r.day = k.bucket_start;
    if found then
        update public.agent_mcp_connection_usage_buckets as b
        set rolled_up = false
        from (select distinct d.agent_id, d.bucket_start from deleted as d where d.granularity = 'day') as k
        where b.agent_id = k.agent_id and b.granularity = 'day' and b.bucket_start = k.bucket_start
          and b.rolled_up;
    end if;
    return null;
end;
$$;

-- A trigger fires without EXECUTE; nobody calls it directly.
revoke execute on function agent_mcp_private.unroll_deleted_usage_days() from public, anon, authenticated, service_role;

create or replace trigger agent_mcp_usage_buckets_unroll_deleted_days
    after delete on public.agent_mcp_connection_usage_buckets
    referencing old table as deleted
    for each statement
    execute function agent_mcp_private.unroll_deleted_usage_days();

-- Deletes the hourly buckets that started before the retention window (counted back
-- from the start of today, UTC), in one statement; their usage stays in the daily
-- buckets, which the writer keeps beside them. Then rolls the days that are over up
-- into agent_mcp_private.agent_usage_days: marks their daily buckets rolled up, and,
-- in a later statement (a newer snapshot, so a write that committed in between is
-- counted, and one still running clears the mark again), sums those agents' days
-- afresh. Returns how many hourly buckets it deleted. For the scheduler
-- (service_role).
create or replace function public.fold_agent_mcp_usage_buckets(p_keep_hourly interval default '30 days')
returns bigint
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    folded bigint;
    today timestamptz := date_trunc('day', now() at time zone 'UTC') at time zone 'UTC';
    agents uuid[];
    days timestamptz[];
begin
    if p_keep_hourly is null or p_keep_hourly < interval '1 day' then
        raise exception 'keep hourly buckets for at least one day' using errcode = '22023';
    end if;
    delete from public.agent_mcp_connection_usage_buckets as b
    where b.granularity = 'hour' and b.bucket_start < today - p_keep_hourly;
    get diagnostics folded = row_count;

    with marked as (
        update public.agent_mcp_connection_usage_buckets as b
        set rolled_up = true
        where b.granularity = 'day' and not b.rolled_up and b.bucket_start < today
        returning b.agent_id, b.bucket_start
    )
    select array_agg(k.agent_id), array_agg(k.bucket_start) into agents, days
    from (select distinct m.agent_id, m.bucket_start from marked as m) as k;

    insert into agent_mcp_private.agent_usage_days as r (
        agent_id, day, requests, successes, failures, bytes, response_time_ms
    )
    select b.agent_id, b.bucket_start, sum(b.requests), sum(b.successes), sum(b.failures),
           sum(b.bytes), sum(b.response_time_ms)
    from unnest(agents, days) as k (agent_id, day)
    join public.agent_mcp_connection_usage_buckets as b
      on b.agent_id = k.agent_id and b.granularity = 'day' and b.bucket_start = k.day
    group by b.agent_id, b.bucket_start
    on conflict (agent_id, day) do update
    set requests = excluded.requests,
        successes = excluded.successes,
        failures = excluded.failures,
        bytes = excluded.bytes,
        response_time_ms = excluded.response_time_ms;
    return folded;
end;
$$;

comment on function public.fold_agent_mcp_usage_buckets(interval) is
    'Scheduler: deletes hourly usage buckets older than the window (the daily ones keep their usage); returns how many.';

revoke execute on function public.fold_agent_mcp_usage_buckets(interval) from public, anon, authenticated;
grant execute on function public.fold_agent_mcp_usage_buckets(interval) to service_role;
revoke execute on function agent_mcp_private.latency_bucket_bounds() from public, anon;
revoke execute on function agent_mcp_private.latency_percentile(bigint[], numeric) from public, anon;
grant execute on function agent_mcp_private.latency_bucket_bounds() to authenticated, service_role;
grant execute on function agent_mcp_private.latency_percentile(bigint[], numeric) to authenticated, service_role;


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

-- Adds a batch of valid events to a connection's usage_stats and last_used, and to
-- this hour's and this day's usage buckets, and returns the new usage_stats.
-- SECURITY DEFINER because users hold no UPDATE privilege on these columns: it is
-- called only by record_agent_mcp_connection_usage(), after that function (with the
-- caller's rights) has found and locked the connection under the caller's RLS.
-- PostgREST does not expose this schema.
-- plpgsql so that its statements' plans are cached for the session (a SQL function's
-- are planned again on every call). Everything between the "usage history" markers
-- is the history's share of the work: bench/usage_history.ts measures the writer
-- without it (keep the markers).
create or replace function agent_mcp_private.add_connection_usage(
    p_connection_id uuid,
    p_events jsonb
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    b record;
    agent uuid;
    stats jsonb;
    updated integer;
begin
    -- One pass over the batch: its sums (and the history's latency counts).
    select count(*) as requests,
           count(*) filter (where e.success) as successes,
           coalesce(sum(e."responseTimeMs"), 0) as response_time,
           coalesce(sum(e."bytesTransferred"), 0) as bytes,
           -- usage history: begin
           count(*) filter (where e."responseTimeMs" < 1) as requests_under_1ms,
           count(*) filter (where e."responseTimeMs" < 2) as requests_under_2ms,
           count(*) filter (where e."responseTimeMs" < 5) as requests_under_5ms,
           count(*) filter (where e."responseTimeMs" < 10) as requests_under_10ms,
           count(*) filter (where e."responseTimeMs" < 20) as requests_under_20ms,
           count(*) filter (where e."responseTimeMs" < 50) as requests_under_50ms,
           count(*) filter (where e."responseTimeMs" < 100) as requests_under_100ms,
           count(*) filter (where e."responseTimeMs" < 200) as requests_under_200ms,
           count(*) filter (where e."responseTimeMs" < 500) as requests_under_500ms,
           count(*) filter (where e."responseTimeMs" < 1000) as requests_under_1s,
           count(*) filter (where e."responseTimeMs" < 2000) as requests_under_2s,
           count(*) filter (where e."responseTimeMs" < 5000) as requests_under_5s,
           count(*) filter (where e."responseTimeMs" < 10000) as requests_under_10s,
           count(*) filter (where e."responseTimeMs" < 30000) as requests_under_30s,
           count(*) filter (where e."responseTimeMs" < 60000) as requests_under_60s,
           -- usage history: end
           now() as recorded_at
    into b
    -- Each event parsed once into typed columns (the caller checked them).
    from jsonb_to_recordset(p_events)
        as e (success boolean, "responseTimeMs" numeric, "bytesTransferred" numeric);

    -- Counters saturate at the bound usage_stats allows (10^21) instead of failing.
    with totals as (
        select
            c.id,
            least(public.usage_stat(c.usage_stats, 'totalRequests') + b.requests, 1e21) as requests,
            least(public.usage_stat(c.usage_stats, 'successfulRequests') + b.successes, 1e21) as successes,
            least(public.usage_stat(c.usage_stats, 'failedRequests') + (b.requests - b.successes), 1e21)
                as failures,
            least(public.usage_stat(c.usage_stats, 'totalResponseTime') + b.response_time, 1e21)
                as response_time,
            least(public.usage_stat(c.usage_stats, 'bytesTransferred') + b.bytes, 1e21) as bytes
        from public.agent_mcp_connections as c
        where c.id = p_connection_id
    )
    update public.agent_mcp_connections as c
    set usage_stats = c.usage_stats || jsonb_build_object(
            'totalRequests', t.requests,
            'successfulRequests', t.successes,
            'failedRequests', t.failures,
            'totalResponseTime', t.response_time,
            -- Never a division by zero, whatever was stored before.
            'averageResponseTime', coalesce(round(t.response_time / nullif(t.requests, 0), 3), 0),
            'bytesTransferred', t.bytes,
            'lastUsed', to_jsonb(b.recorded_at)
        ),
        last_used = b.recorded_at
    from totals as t
    where c.id = t.id
    returning c.agent_id, c.usage_stats into agent, stats;

    -- usage history: begin
    -- The same batch into this hour's and this day's buckets: each granularity adds up
    -- to the totals. Usually both rows exist: one UPDATE changes them in place (HOT: no
    -- index holds a column whose value it changes, rolled_up being false already but on
    -- the first write after the fold rolled the day up; cheaper than an upsert, which
    -- locks each row before updating it). The first events of an hour or a day insert
    -- the missing row. Writers of one connection queue on its row lock (taken by the
    -- caller), so none races another between the two; the upsert guards against anyone
    -- else.
    update public.agent_mcp_connection_usage_buckets as h
    set rolled_up = false,
        requests = h.requests + b.requests,
        successes = h.successes + b.successes,
        failures = h.failures + (b.requests - b.successes),
        bytes = h.bytes + b.bytes,
        response_time_ms = h.response_time_ms + b.response_time,
        requests_under_1ms = h.requests_under_1ms + b.requests_under_1ms,
        requests_under_2ms = h.requests_under_2ms + b.requests_under_2ms,
        requests_under_5ms = h.requests_under_5ms + b.requests_under_5ms,
        requests_under_10ms = h.requests_under_10ms + b.requests_under_10ms,
        requests_under_20ms = h.requests_under_20ms + b.requests_under_20ms,
        requests_under_50ms = h.requests_under_50ms + b.requests_under_50ms,
        requests_under_100ms = h.requests_under_100ms + b.requests_under_100ms,
        requests_under_200ms = h.requests_under_200ms + b.requests_under_200ms,
        requests_under_500ms = h.requests_under_500ms + b.requests_under_500ms,
        requests_under_1s = h.requests_under_1s + b.requests_under_1s,
        requests_under_2s = h.requests_under_2s + b.requests_under_2s,
        requests_under_5s = h.requests_under_5s + b.requests_under_5s,
        requests_under_10s = h.requests_under_10s + b.requests_under_10s,
        requests_under_30s = h.requests_under_30s + b.requests_under_30s,
        requests_under_60s = h.requests_under_60s + b.requests_under_60s
    where h.connection_id = p_connection_id
      and (h.granularity, h.bucket_start) in (
          ('hour', date_trunc('hour', b.recorded_at at time zone 'UTC') at time zone 'UTC'),
          ('day', date_trunc('day', b.recorded_at at time zone 'UTC') at time zone 'UTC'));
    get diagnostics updated = row_count;
    if updated < 2 then
        insert into public.agent_mcp_connection_usage_buckets as x (
            connection_id, agent_id, granularity, bucket_start, requests, successes, failures,
            bytes, response_time_ms,
            requests_under_1ms, requests_under_2ms, requests_under_5ms, requests_under_10ms,
            requests_under_20ms, requests_under_50ms, requests_under_100ms, requests_under_200ms,
            requests_under_500ms, requests_under_1s, requests_under_2s, requests_under_5s,
            requests_under_10s, requests_under_30s, requests_under_60s
        )
        select p_connection_id, agent, g.granularity, g.bucket_start,
               b.requests, b.successes, b.requests - b.successes, b.bytes, b.response_time,
               b.requests_under_1ms, b.requests_under_2ms, b.requests_under_5ms, b.requests_under_10ms,
               b.requests_under_20ms, b.requests_under_50ms, b.requests_under_100ms, b.requests_under_200ms,
               b.requests_under_500ms, b.requests_under_1s, b.requests_under_2s, b.requests_under_5s,
               b.requests_under_10s, b.requests_under_30s, b.requests_under_60s
        from (
            select g.granularity,
                   date_trunc(g.granularity, b.recorded_at at time zone 'UTC') at time zone 'UTC'
                       as bucket_start
            from (values ('hour'), ('day')) as g (granularity)
        ) as g
        where not exists (
            select 1 from public.agent_mcp_connection_usage_buckets as h
            where h.connection_id = p_connection_id and h.granularity = g.granularity
              and h.bucket_start = g.bucket_start
        )
        on conflict (connection_id, granularity, bucket_start) do update
        set requests = x.requests + excluded.requests,
            successes = x.successes + excluded.successes,
            failures = x.failures + excluded.failures,
            bytes = x.bytes + excluded.bytes,
            response_time_ms = x.response_time_ms + excluded.response_time_ms,
            requests_under_1ms = x.requests_under_1ms + excluded.requests_under_1ms,
            requests_under_2ms = x.requests_under_2ms + excluded.requests_under_2ms,
            requests_under_5ms = x.requests_under_5ms + excluded.requests_under_5ms,
            requests_under_10ms = x.requests_under_10ms + excluded.requests_under_10ms,
            requests_under_20ms = x.requests_under_20ms + excluded.requests_under_20ms,
            requests_under_50ms = x.requests_under_50ms + excluded.requests_under_50ms,
            requests_under_100ms = x.requests_under_100ms + excluded.requests_under_100ms,
            requests_under_200ms = x.requests_under_200ms + excluded.requests_under_200ms,
            requests_under_500ms = x.requests_under_500ms + excluded.requests_under_500ms,
            requests_under_1s = x.requests_under_1s + excluded.requests_under_1s,
            requests_under_2s = x.requests_under_2s + excluded.requests_under_2s,
            requests_under_5s = x.requests_under_5s + excluded.requests_under_5s,
            requests_under_10s = x.requests_under_10s + excluded.requests_under_10s,
            requests_under_30s = x.requests_under_30s + excluded.requests_under_30s,
            requests_under_60s = x.requests_under_60s + excluded.requests_under_60s;
    end if;
    -- usage history: end

    return stats;
end;
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
