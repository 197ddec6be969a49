-- =============================================================================
-- Reports over time: usage series from the usage buckets (migration *_usage.sql)
-- and health series from the health-check history (migration *_health_checks.sql).
--
--   agent_mcp_connection_usage_series(connection, from, to, bucket)  one connection
--   agent_mcp_usage_series(from, to, bucket)                         the caller's totals
--   agent_mcp_usage_by_connection(from, to)                          the caller, per connection
--   agent_mcp_connection_health_series(connection, from, to, bucket) one connection's checks
--   admin_agent_mcp_usage_series(from, to, bucket)                   admins: every user's totals
--   admin_agent_mcp_usage_by_user(from, to)                          admins: per user
--
-- The user functions are SECURITY INVOKER: RLS on the buckets, connections and checks
-- decides what they read. The admin ones are SECURITY DEFINER and refuse non-admins
-- (as the other admin_* functions). A range is [from, to) in UTC; `bucket` is 'hour'
-- or 'day'; a series has one point per bucket (empty ones included) and at most
-- 1000 points. Bad input raises 22023 (HTTP 400); the module's coded errors
-- (agent_mcp_private.raise_error()) say connection_not_found (404) for a connection
-- the caller cannot see and forbidden (403) for a non-admin.
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: range checks
-- -----------------------------------------------------------------------------

-- The buckets of a report range, checked: raises 22023 for a bad bucket size, an
-- empty or reversed range, or more than 1000 points. Returns the bucket starts.
create or replace function agent_mcp_private.report_buckets(
    p_from timestamptz,
    p_to timestamptz,
    p_bucket text
)
returns setof timestamptz
language plpgsql
stable
set search_path = ''
as $$
declare
    step interval;
    first_bucket timestamptz;
begin
    if p_bucket is null or p_bucket not in ('hour', 'day') then
        raise exception 'bucket must be hour or day' using errcode = '22023';
    end if;
    if p_from is null or p_to is null or p_from >= p_to then
        raise exception 'from must be before to' using errcode = '22023';
    end if;
    step := ('1 ' || p_bucket)::interval;
    first_bucket := date_trunc(p_bucket, p_from at time zone 'UTC') at time zone 'UTC';
    if (p_to - first_bucket) > step * 1000 then
        raise exception 'a report has at most 1000 % buckets', p_bucket using errcode = '22023';
    end if;
    return query select generate_series(first_bucket, p_to - interval '1 microsecond', step);
end;
$$;

-- Raises 22023 when a range for totals is empty, reversed or longer than ten years.
create or replace function agent_mcp_private.check_report_range(p_from timestamptz, p_to timestamptz)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
    if p_from is null or p_to is null or p_from >= p_to then
        raise exception 'from must be before to' using errcode = '22023';
    end if;
    if p_to - p_from > interval '3660 days' then
        raise exception 'a report covers at most ten years' using errcode = '22023';
    end if;
end;
$$;


-- -----------------------------------------------------------------------------
-- Section: usage series
-- -----------------------------------------------------------------------------
-- The writer keeps one bucket per connection and hour (the last 30 days, see
-- fold_agent_mcp_usage_buckets()) and one per connection and day (kept): a series
-- reads the buckets of its own size only, one row per connection and point, and a
-- year of daily totals reads 365 rows per connection whatever the hourly detail.

-- The usage of one of the caller's connections, one point per bucket: its buckets of
-- that size, one per point. Hourly points exist only within the retention window.
create or replace function public.agent_mcp_connection_usage_series(
    p_connection_id uuid,
    p_from timestamptz,
    p_to timestamptz,
    p_bucket text
)
returns table (
    bucket_start timestamptz,
    requests bigint,
    successes bigint,
    failures bigint,
    bytes numeric,
    average_latency_ms numeric,
    latency_p50_ms numeric,
    latency_p95_ms numeric,
    latency_p99_ms numeric
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    perform agent_mcp_private.check_report_range(p_from, p_to);
    if not exists (select 1 from public.agent_mcp_connections as c where c.id = p_connection_id) then
        perform agent_mcp_private.raise_error(404, 'connection_not_found',
            format('Connection %s was not found.', p_connection_id));
    end if;
    return query
        with points as (select s from agent_mcp_private.report_buckets(p_from, p_to, p_bucket) as s),
        buckets as (
            select b.bucket_start as s, b.requests, b.successes, b.failures, b.bytes, b.response_time_ms,
                   array[b.requests_under_1ms, b.requests_under_2ms, b.requests_under_5ms, b.requests_under_10ms,
                   b.requests_under_20ms, b.requests_under_50ms, b.requests_under_100ms, b.requests_under_200ms,
                   b.requests_under_500ms, b.requests_under_1s, b.requests_under_2s, b.requests_under_5s,
                   b.requests_under_10s, b.requests_under_30s, b.requests_under_60s, b.requests] as requests_under
            from public.agent_mcp_connection_usage_buckets as b
            where b.connection_id = p_connection_id
              and b.granularity = p_bucket
              and b.bucket_start >= date_trunc(p_bucket, p_from at time zone 'UTC') at time zone 'UTC'
              and b.bucket_start < p_to
        )
        select p.s,
               coalesce(x.requests, 0), coalesce(x.successes, 0), coalesce(x.failures, 0),
               coalesce(x.bytes, 0),
               round(x.response_time_ms / nullif(x.requests, 0), 3),
               agent_mcp_private.latency_percentile(x.requests_under, 0.50),
               agent_mcp_private.latency_percentile(x.requests_under, 0.95),
               agent_mcp_private.latency_percentile(x.requests_under, 0.99)
        from points as p
        left join buckets as x on x.s = p.s
        order by p.s;
end;
$$;

-- Usage summed over the buckets the current role may read, one point per bucket:
-- the caller's own (RLS) from agent_mcp_usage_series(), everyone's from the admin
-- report (which runs it with its owner's rights).
create or replace function agent_mcp_private.usage_series(
    p_from timestamptz,
    p_to timestamptz,
    p_bucket text
)
returns table (
    bucket_start timestamptz,
    requests bigint,
    successes bigint,
    failures bigint,
    bytes numeric,
    average_latency_ms numeric
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    perform agent_mcp_private.check_report_range(p_from, p_to);
    return query
        with points as (select s from agent_mcp_private.report_buckets(p_from, p_to, p_bucket) as s),
        -- Daily points: each agent's rolled-up day, unless some of its daily buckets
        -- of that day are not rolled up (today, a late write): then those buckets.
        not_rolled_up as (
            select distinct b.agent_id, b.bucket_start
            from public.agent_mcp_connection_usage_buckets as b
            where p_bucket = 'day' and b.granularity = 'day' and not b.rolled_up
              and b.bucket_start >= date_trunc('day', p_from at time zone 'UTC') at time zone 'UTC'
              and b.bucket_start < p_to
        ),
        picked as (
            select r.day as s, r.requests, r.successes, r.failures, r.bytes, r.response_time_ms
            from agent_mcp_private.agent_usage_days as r
            where p_bucket = 'day'
              and r.day >= date_trunc('day', p_from at time zone 'UTC') at time zone 'UTC'
              and r.day < p_to
              and not exists (
                  select 1 from not_rolled_up as n where n.agent_id = r.agent_id and n.bucket_start = r.day
              )
            union all
            -- One index probe per day not rolled up (OFFSET 0 keeps the planner from
            -- hashing every daily bucket of the caller instead).
            select b.bucket_start, b.requests, b.successes, b.failures, b.bytes, b.response_time_ms
            from not_rolled_up as n
            cross join lateral (
                select b.*
                from public.agent_mcp_connection_usage_buckets as b
                where b.agent_id = n.agent_id and b.granularity = 'day'
                  and b.bucket_start = n.bucket_start
                offset 0
            ) as b
            union all
            -- Hourly points: the hourly buckets.
            select b.bucket_start, b.requests, b.successes, b.failures, b.bytes, b.response_time_ms
            from public.agent_mcp_connection_usage_buckets as b
            where p_bucket = 'hour' and b.granularity = 'hour'
              and b.bucket_start >= date_trunc('hour', p_from at time zone 'UTC') at time zone 'UTC'
              and b.bucket_start < p_to
        ),
        sums as (
            select x.s,
                   sum(x.requests)::bigint as requests,
                   sum(x.successes)::bigint as successes,
                   sum(x.failures)::bigint as failures,
                   sum(x.bytes) as bytes,
                   sum(x.response_time_ms) as response_time_ms
            from picked as x
            group by x.s
        )
        select p.s, coalesce(x.requests, 0), coalesce(x.successes, 0), coalesce(x.failures, 0),
               coalesce(x.bytes, 0), round(x.response_time_ms / nullif(x.requests, 0), 3)
        from points as p
        left join sums as x on x.s = p.s
        order by p.s;
end;
$$;

-- The caller's usage summed over all their connections, one point per bucket (RLS
-- keeps the buckets to the caller's agents).
create or replace function public.agent_mcp_usage_series(
    p_from timestamptz,
    p_to timestamptz,
    p_bucket text
)
returns table (
    bucket_start timestamptz,
    requests bigint,
    successes bigint,
    failures bigint,
    bytes numeric,
    average_latency_ms numeric
)
language sql
stable
security invoker
set search_path = ''
as $$
    select * from agent_mcp_private.usage_series(p_from, p_to, p_bucket);
$$;

-- Usage over a range per connection, over the buckets the current role may read (the
-- caller's own from agent_mcp_usage_by_connection(), everyone's from the admin report).
-- The whole days of the range come from the daily buckets; a partial day at either
-- end from its hourly buckets in the range, or, once its hours were deleted (older
-- than the retention window), from its whole daily bucket. A year reads about 365
-- rows per connection. requests_under: the summed cumulative latency histogram.
create or replace function agent_mcp_private.usage_per_connection(
    p_from timestamptz,
    p_to timestamptz
)
returns table (
    connection_id uuid,
    agent_id uuid,
    requests bigint,
    successes bigint,
    failures bigint,
    bytes numeric,
    response_time_ms numeric,
    requests_under bigint[]
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
    first_hour timestamptz;
    first_day timestamptz;
    -- The whole days of the range: [whole_from, whole_to) (empty within one day).
    whole_from timestamptz;
    whole_to timestamptz;
begin
    perform agent_mcp_private.check_report_range(p_from, p_to);
    first_hour := date_trunc('hour', p_from at time zone 'UTC') at time zone 'UTC';
    first_day := date_trunc('day', p_from at time zone 'UTC') at time zone 'UTC';
    whole_from := case when first_day = p_from then first_day else first_day + interval '24 hours' end;
    whole_to := date_trunc('day', p_to at time zone 'UTC') at time zone 'UTC';
    return query
        with picked as (
            -- The whole days.
            select b.*
            from public.agent_mcp_connection_usage_buckets as b
            where b.granularity = 'day' and b.bucket_start >= whole_from and b.bucket_start < whole_to
            union all
            -- The first partial day's hours in the range.
            select b.*
            from public.agent_mcp_connection_usage_buckets as b
            where b.granularity = 'hour'
              and b.bucket_start >= first_hour and b.bucket_start < least(whole_from, p_to)
            union all
            -- The last partial day's hours (none when the range ends at midnight).
            select b.*
            from public.agent_mcp_connection_usage_buckets as b
            where b.granularity = 'hour'
              and b.bucket_start >= greatest(whole_to, whole_from) and b.bucket_start < p_to
            union all
            -- A partial day whose hours are gone: the whole day, as the only record of it.
            select b.*
            from public.agent_mcp_connection_usage_buckets as b
            where b.granularity = 'day'
              and b.bucket_start = any (array[
                  case when first_day < whole_from then first_day end,
                  case when whole_to < p_to and whole_to >= whole_from then whole_to end
              ])
              -- A scalar subquery (not NOT EXISTS, which the planner turns into an anti
              -- join over every hourly bucket): one primary-key probe per edge-day row.
              and (
                  select true from public.agent_mcp_connection_usage_buckets as h
                  where h.connection_id = b.connection_id and h.granularity = 'hour'
                    and h.bucket_start >= b.bucket_start
                    and h.bucket_start < b.bucket_start + interval '24 hours'
                  limit 1
              ) is null
        )
        select x.connection_id, x.agent_id,
               sum(x.requests)::bigint, sum(x.successes)::bigint, sum(x.failures)::bigint,
               sum(x.bytes), sum(x.response_time_ms),
               array[sum(x.requests_under_1ms), sum(x.requests_under_2ms), sum(x.requests_under_5ms),
               sum(x.requests_under_10ms), sum(x.requests_under_20ms), sum(x.requests_under_50ms),
               sum(x.requests_under_100ms), sum(x.requests_under_200ms), sum(x.requests_under_500ms),
               sum(x.requests_under_1s), sum(x.requests_under_2s), sum(x.requests_under_5s),
               sum(x.requests_under_10s), sum(x.requests_under_30s), sum(x.requests_under_60s),
               sum(x.requests)]::bigint[]
        from picked as x
        group by x.connection_id, x.agent_id;
end;
$$;

-- The caller's usage over a range, one row per connection that was used in it.
create or replace function public.agent_mcp_usage_by_connection(
    p_from timestamptz,
    p_to timestamptz
)
returns table (
    connection_id uuid,
    agent_id uuid,
    mcp_server_instance_id uuid,
    requests bigint,
    successes bigint,
    failures bigint,
    bytes numeric,
    average_latency_ms numeric,
    latency_p95_ms numeric
)
language sql
stable
security invoker
set search_path = ''
as $$
    select u.connection_id, u.agent_id, c.mcp_server_instance_id,
           u.requests, u.successes, u.failures, u.bytes,
           round(u.response_time_ms / nullif(u.requests, 0), 3),
           agent_mcp_private.latency_percentile(u.requests_under, 0.95)
    from agent_mcp_private.usage_per_connection(p_from, p_to) as u
    join public.agent_mcp_connections as c on c.id = u.connection_id
    order by u.requests desc, u.connection_id;
$$;


-- -----------------------------------------------------------------------------
-- Section: health series
-- -----------------------------------------------------------------------------

-- The health checks of one of the caller's connections, one point per bucket:
-- checks, failures, uptime (share of successful checks) and latency percentiles of
-- the successful ones. The connection reads its own target's history (its owner and
-- config), as agent_mcp_connection_health_summary does.
create or replace function public.agent_mcp_connection_health_series(
    p_connection_id uuid,
    p_from timestamptz,
    p_to timestamptz,
    p_bucket text
)
returns table (
    bucket_start timestamptz,
    checks bigint,
    failures bigint,
    uptime numeric,
    latency_p50_ms numeric,
    latency_p95_ms numeric,
    latency_p99_ms numeric
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
    server_id uuid;
    owner uuid;
    config jsonb;
begin
    perform agent_mcp_private.check_report_range(p_from, p_to);
    select c.mcp_server_instance_id, a.user_id, c.connection_config
    into server_id, owner, config
    from public.agent_mcp_connections as c
    join public.agents as a on a.id = c.agent_id
    where c.id = p_connection_id;
    if not found then
        perform agent_mcp_private.raise_error(404, 'connection_not_found',
            format('Connection %s was not found.', p_connection_id));
    end if;
    return query
        with points as (select s from agent_mcp_private.report_buckets(p_from, p_to, p_bucket) as s),
        checks as (
            select date_trunc(p_bucket, k.checked_at at time zone 'UTC') at time zone 'UTC' as s,
                   count(*) as checks,
                   count(*) filter (where not k.success) as failures,
                   round(avg(k.success::int), 4) as uptime,
                   percentile_cont(0.50) within group (order by k.latency_ms) filter (where k.success) as p50,
                   percentile_cont(0.95) within group (order by k.latency_ms) filter (where k.success) as p95,
                   percentile_cont(0.99) within group (order by k.latency_ms) filter (where k.success) as p99
            from public.mcp_health_checks as k
            where k.mcp_server_instance_id = server_id
              and k.owner_id = owner
              and k.target_key = public.probe_target_key(owner, config)
              and k.checked_at >= (select min(p.s) from points as p)
              and k.checked_at < p_to
            group by 1
        )
        select p.s, coalesce(x.checks, 0), coalesce(x.failures, 0), x.uptime,
               round(x.p50::numeric, 3), round(x.p95::numeric, 3), round(x.p99::numeric, 3)
        from points as p
        left join checks as x on x.s = p.s
        order by p.s;
end;
$$;


-- -----------------------------------------------------------------------------
-- Section: admin reports
-- -----------------------------------------------------------------------------

-- Admins only: every user's usage summed per bucket. SECURITY DEFINER (admins read
-- every user's buckets, which RLS would not let them) and it checks the caller first;
-- the series is the users' own, run with the owner's rights.
create or replace function public.admin_agent_mcp_usage_series(
    p_from timestamptz,
    p_to timestamptz,
    p_bucket text
)
returns table (
    bucket_start timestamptz,
    requests bigint,
    successes bigint,
    failures bigint,
    bytes numeric,
    average_latency_ms numeric
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    if not (select public.is_admin()) then
        perform agent_mcp_private.raise_error(403, 'forbidden', 'This needs the admin role.');
    end if;
    return query select * from agent_mcp_private.usage_series(p_from, p_to, p_bucket);
end;
$$;

-- Admins only: usage over a range per user (the same rows as
-- agent_mcp_usage_by_connection(), over every user's connections).
create or replace function public.admin_agent_mcp_usage_by_user(
    p_from timestamptz,
    p_to timestamptz
)
returns table (
    user_id uuid,
    connections bigint,
    requests bigint,
    successes bigint,
    failures bigint,
    bytes numeric,
    average_latency_ms numeric
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    if not (select public.is_admin()) then
        perform agent_mcp_private.raise_error(403, 'forbidden', 'This needs the admin role.');
    end if;
    return query
        select a.user_id, count(*), sum(u.requests)::bigint,
               sum(u.successes)::bigint, sum(u.failures)::bigint, sum(u.bytes),
               round(sum(u.response_time_ms) / nullif(sum(u.requests), 0), 3)
        from agent_mcp_private.usage_per_connection(p_from, p_to) as u
        join public.agents as a on a.id = u.agent_id
        group by a.user_id
        order by sum(u.requests) desc, a.user_id;
end;
$$;


-- -----------------------------------------------------------------------------
-- Section: grants
-- -----------------------------------------------------------------------------

revoke execute on function agent_mcp_private.report_buckets(timestamptz, timestamptz, text) from public, anon;
revoke execute on function agent_mcp_private.check_report_range(timestamptz, timestamptz) from public, anon;
revoke execute on function agent_mcp_private.usage_series(timestamptz, timestamptz, text) from public, anon;
grant execute on function agent_mcp_private.usage_series(timestamptz, timestamptz, text) to authenticated, service_role;
revoke execute on function agent_mcp_private.usage_per_connection(timestamptz, timestamptz) from public, anon;
grant execute on function agent_mcp_private.usage_per_connection(timestamptz, timestamptz) to authenticated, service_role;
grant execute on function agent_mcp_private.report_buckets(timestamptz, timestamptz, text) to authenticated, service_role;
grant execute on function agent_mcp_private.check_report_range(timestamptz, timestamptz) to authenticated, service_role;

revoke execute on function public.agent_mcp_connection_usage_series(uuid, timestamptz, timestamptz, text) from public, anon;
revoke execute on function public.agent_mcp_usage_series(timestamptz, timestamptz, text) from public, anon;
revoke execute on function public.agent_mcp_usage_by_connection(timestamptz, timestamptz) from public, anon;
revoke execute on function public.agent_mcp_connection_health_series(uuid, timestamptz, timestamptz, text) from public, anon;
revoke execute on function public.admin_agent_mcp_usage_series(timestamptz, timestamptz, text) from public, anon;
revoke execute on function public.admin_agent_mcp_usage_by_user(timestamptz, timestamptz) from public, anon;
grant execute on function public.agent_mcp_connection_usage_series(uuid, timestamptz, timestamptz, text) to authenticated, service_role;
grant execute on function public.agent_mcp_usage_series(timestamptz, timestamptz, text) to authenticated, service_role;
grant execute on function public.agent_mcp_usage_by_connection(timestamptz, timestamptz) to authenticated, service_role;
grant execute on function public.agent_mcp_connection_health_series(uuid, timestamptz, timestamptz, text) to authenticated, service_role;
grant execute on function public.admin_agent_mcp_usage_series(timestamptz, timestamptz, text) to authenticated, service_role;
grant execute on function public.admin_agent_mcp_usage_by_user(timestamptz, timestamptz) to authenticated, service_role;
