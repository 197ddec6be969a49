-- =============================================================================
-- Scheduled health checks of active connections (the research draft's
-- "automated health monitoring" and "analytics views").
--
-- A run (mcp-health-check function, service_role) probes each distinct target
-- once — an MCP server together with the probe-relevant part of a connection's
-- config (timeout, retries, custom headers) — and writes every outcome back in a
-- handful of set-based statements:
--
--   mcp_health_check_runs          one row per run; its lease keeps runs from overlapping
--   mcp_health_checks              one row per target and run: the compact history
--   agent_mcp_connection_health    per connection: consecutive failures, last
--                                  check, last failure and its class, last change
--   agent_mcp_connection_health_summary (view)
--                                  per connection: uptime 24 h / 7 d, p50/p95/p99
--                                  latency, last failure, last status change
--
-- A connection turns 'error' only after N consecutive failed checks (default 3),
-- and 'connected' at the first success. Users read the health of their own
-- connections only; only service_role writes.
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: probe targets
-- -----------------------------------------------------------------------------

-- The part of a connection's config that changes a probe's outcome, as a key:
-- connections of one server with the same key share one probe per run.
create or replace function public.probe_target_key(config jsonb)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
    select md5(jsonb_build_object(
        'timeout', config -> 'timeout',
        'retryAttempts', config -> 'retryAttempts',
        'customHeaders', config -> 'customHeaders'
    )::text);
$$;

comment on function public.probe_target_key(jsonb) is
    'Key of the probe-relevant config (timeout, retryAttempts, customHeaders): equal keys share a probe.';

-- Signed-in users (their health-check policy calls it) and service_role; not anon,
-- nor PUBLIC.
revoke execute on function public.probe_target_key(jsonb) from public, anon;
grant execute on function public.probe_target_key(jsonb) to authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: tables
-- -----------------------------------------------------------------------------

-- One row per health check run. A run holds a lease while it works; a second run
-- is refused while a lease is live, and a run whose lease ran out may not write.
create table if not exists public.mcp_health_check_runs (
    id uuid primary key default gen_random_uuid(),
    started_at timestamptz not null default now(),
    lease_expires_at timestamptz not null,
    finished_at timestamptz,
    connections integer,
    servers integer,
    probed integer,
    healthy integer,
    unhealthy integer,
    skipped integer,
    duration_ms integer,
    constraint mcp_health_check_runs_lease_after_start check (lease_expires_at > started_at)
);

create index if not exists mcp_health_check_runs_started_at_idx
    on public.mcp_health_check_runs (started_at);

comment on table public.mcp_health_check_runs is 'Health check runs, with the lease that keeps them from overlapping.';

-- The compact history: one row per probed target and run.
create table if not exists public.mcp_health_checks (
    id bigint generated always as identity primary key,
    run_id uuid not null references public.mcp_health_check_runs (id) on delete cascade,
    mcp_server_instance_id uuid not null
        references public.account_tool_instances (id) on delete cascade,
    target_key text not null,
    checked_at timestamptz not null default now(),
    success boolean not null,
    latency_ms integer,
    error_class text,
    http_status smallint,
    constraint mcp_health_checks_error_class_check check (
        error_class is null or error_class in (
            'timeout', 'refused', 'dns', 'tls', 'http_status', 'auth', 'protocol',
            'invalid_response', 'blocked'
        )
    ),
    constraint mcp_health_checks_outcome_check check (success = (error_class is null))
);

-- Uptime and latency windows read one target's recent checks.
create index if not exists mcp_health_checks_target_time_idx
    on public.mcp_health_checks (mcp_server_instance_id, target_key, checked_at);
create index if not exists mcp_health_checks_run_id_idx on public.mcp_health_checks (run_id);
-- Retention deletes by age.
create index if not exists mcp_health_checks_checked_at_idx on public.mcp_health_checks (checked_at);

comment on table public.mcp_health_checks is
    'Health check outcomes: one row per (MCP server, probe-relevant config) and run.';

-- Per connection: what the health checks found lately.
create table if not exists public.agent_mcp_connection_health (
    connection_id uuid primary key references public.agent_mcp_connections (id) on delete cascade,
    consecutive_failures integer not null default 0,
    last_checked_at timestamptz,
    last_success_at timestamptz,
    last_failure_at timestamptz,
    last_error_class text,
    last_status_change_at timestamptz,
    constraint agent_mcp_connection_health_failures_check check (consecutive_failures >= 0)
);

comment on table public.agent_mcp_connection_health is
    'Per-connection health: consecutive failed checks, last check, last failure, last status change by a check.';
comment on column public.agent_mcp_connection_health.last_status_change_at is
    'When a health check last moved the connection between connected and error.';


-- -----------------------------------------------------------------------------
-- Section: Row Level Security and grants
-- -----------------------------------------------------------------------------

alter table public.mcp_health_check_runs enable row level security;
alter table public.mcp_health_checks enable row level security;
alter table public.agent_mcp_connection_health enable row level security;

-- Runs are operational data: service_role only (no policy for anyone else).
-- Users read the history and health of their own connections (policies below).
-- The identity sequence of mcp_health_checks needs no grant: an identity column
-- draws its value without a USAGE check.
revoke all on table public.mcp_health_check_runs from public, anon, authenticated, service_role;
revoke all on table public.mcp_health_checks from public, anon, authenticated, service_role;
revoke all on table public.agent_mcp_connection_health from public, anon, authenticated, service_role;
grant select, insert, update, delete on table public.mcp_health_check_runs to service_role;
grant select, insert, update, delete on table public.mcp_health_checks to service_role;
grant select, insert, update, delete on table public.agent_mcp_connection_health to service_role;
grant select on table public.mcp_health_checks to authenticated;
grant select on table public.agent_mcp_connection_health to authenticated;

-- A user reads the checks of the targets their own connections use (their
-- connections are collected once per query, through the connections' own RLS).
drop policy if exists "Users can view health checks of their connections" on public.mcp_health_checks;
create policy "Users can view health checks of their connections" on public.mcp_health_checks
    for select to authenticated
    using ((mcp_server_instance_id, target_key) in (
        select c.mcp_server_instance_id, public.probe_target_key(c.connection_config)
        from public.agent_mcp_connections as c
    ));

drop policy if exists "Users can view the health of their connections" on public.agent_mcp_connection_health;
create policy "Users can view the health of their connections" on public.agent_mcp_connection_health
    for select to authenticated
    using (connection_id = any (array(select c.id from public.agent_mcp_connections as c)));


-- -----------------------------------------------------------------------------
-- Section: agent_mcp_connection_health_summary
-- -----------------------------------------------------------------------------

-- Health of the caller's active connections: uptime over 24 h and 7 d (share of
-- successful checks), p50/p95/p99 latency of successful checks over 24 h, last
-- failure and its class, last status change. Security invoker: RLS on the
-- connections and the checks keeps each user to their own.
create or replace view public.agent_mcp_connection_health_summary
with (security_invoker = true)
as
select
    c.id as connection_id,
    c.agent_id,
    c.mcp_server_instance_id,
    c.connection_status,
    coalesce(h.consecutive_failures, 0) as consecutive_failures,
    h.last_checked_at,
    h.last_success_at,
    h.last_failure_at,
    h.last_error_class,
    h.last_status_change_at,
    w.checks_24h,
    w.checks_7d,
    w.uptime_24h,
    w.uptime_7d,
    w.latency_p50_ms,
    w.latency_p95_ms,
    w.latency_p99_ms
from public.agent_mcp_connections as c
left join public.agent_mcp_connection_health as h on h.connection_id = c.id
cross join lateral (
    select
        count(*) filter (where k.checked_at > now() - interval '24 hours') as checks_24h,
        count(*) as checks_7d,
        round(avg(k.success::int) filter (where k.checked_at > now() - interval '24 hours'), 4)
            as uptime_24h,
        round(avg(k.success::int), 4) as uptime_7d,
        percentile_cont(0.50) within group (order by k.latency_ms)
            filter (where k.success and k.checked_at > now() - interval '24 hours') as latency_p50_ms,
        percentile_cont(0.95) within group (order by k.latency_ms)
            filter (where k.success and k.checked_at > now() - interval '24 hours') as latency_p95_ms,
        percentile_cont(0.99) within group (order by k.latency_ms)
            filter (where k.success and k.checked_at > now() - interval '24 hours') as latency_p99_ms
    from public.mcp_health_checks as k
    where k.mcp_server_instance_id = c.mcp_server_instance_id
      and k.target_key = public.probe_target_key(c.connection_config)
      and k.checked_at > now() - interval '7 days'
) as w
where c.is_active;

comment on view public.agent_mcp_connection_health_summary is
    'Uptime (24 h, 7 d), latency percentiles (24 h) and last failure of the caller''s active connections.';

revoke all on table public.agent_mcp_connection_health_summary from public, anon, authenticated, service_role;
grant select on table public.agent_mcp_connection_health_summary to authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: what a run reads
-- -----------------------------------------------------------------------------

-- The distinct targets of active connections, optionally limited to some servers
-- or connections: each with the server URL, the probe-relevant config and how
-- many connections share it.
create or replace function public.mcp_health_check_targets(
    p_server_ids uuid[] default null,
    p_connection_ids uuid[] default null
)
returns table (
    mcp_server_instance_id uuid,
    target_key text,
    mcp_server_url text,
    probe_config jsonb,
    connections integer
)
language sql
stable
security invoker
set search_path = ''
as $$
    select
        c.mcp_server_instance_id,
        public.probe_target_key(p.probe_config),
        s.mcp_server_url,
        p.probe_config,
        count(*)::integer
    from public.agent_mcp_connections as c
    join public.account_tool_instances as s on s.id = c.mcp_server_instance_id
    cross join lateral (
        select jsonb_strip_nulls(jsonb_build_object(
            'timeout', c.connection_config -> 'timeout',
            'retryAttempts', c.connection_config -> 'retryAttempts',
            'customHeaders', c.connection_config -> 'customHeaders'
        )) as probe_config
    ) as p
    where c.is_active
      and (p_server_ids is null or c.mcp_server_instance_id = any (p_server_ids))
      and (p_connection_ids is null or c.id = any (p_connection_ids))
    group by c.mcp_server_instance_id, s.mcp_server_url, p.probe_config;
$$;


-- -----------------------------------------------------------------------------
-- Section: the run lease
-- -----------------------------------------------------------------------------

-- Starts a run unless another holds a live lease. Returns the new run's id, or
-- null when a run is in progress (the caller reports it and does nothing).
create or replace function public.begin_mcp_health_check_run(p_lease_seconds integer)
returns uuid
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    new_run uuid;
begin
    if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
        raise exception 'lease must be 1 to 3600 seconds' using errcode = '22023';
    end if;
    -- Serialises concurrent starts; released at commit.
    perform pg_advisory_xact_lock(hashtextextended('public.mcp_health_check_runs', 0));
    if exists (
        select 1 from public.mcp_health_check_runs
        where finished_at is null and lease_expires_at > now()
    ) then
        return null;
    end if;
    insert into public.mcp_health_check_runs (lease_expires_at)
    values (now() + make_interval(secs => p_lease_seconds))
    returning id into new_run;
    return new_run;
end;
$$;


-- -----------------------------------------------------------------------------
-- Section: what a run writes
-- -----------------------------------------------------------------------------

-- Writes a run's outcomes in four set-based statements, and ends the run.
--   p_results: [{"serverId", "targetKey", "result": <connection_test_result>}, ...]
--   p_server_ids / p_connection_ids: the run's filters (only those connections change)
--   p_failure_threshold: failed checks in a row before a connection turns 'error'
--   p_retention_days: history older than this is deleted
-- Returns one row per target whose connections changed status:
--   (server id, target key, became_unhealthy, became_healthy).
-- Refuses (55000) when the run has ended, or its lease ran out and a newer run
-- started: two runs never both write.
create or replace function public.record_mcp_health_check_run(
    p_run_id uuid,
    p_results jsonb,
    p_summary jsonb,
    p_server_ids uuid[] default null,
    p_connection_ids uuid[] default null,
    p_failure_threshold integer default 3,
    p_retention_days integer default 14
)
returns table (
    mcp_server_instance_id uuid,
    target_key text,
    became_unhealthy integer,
    became_healthy integer
)
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    if p_failure_threshold is null or p_failure_threshold not between 1 and 100 then
        raise exception 'failure threshold must be 1 to 100' using errcode = '22023';
    end if;
    if p_retention_days is null or p_retention_days not between 1 and 3650 then
        raise exception 'retention must be 1 to 3650 days' using errcode = '22023';
    end if;
    if p_results is null or jsonb_typeof(p_results) <> 'array' then
        raise exception 'results must be a JSON array' using errcode = '22023';
    end if;

    -- 1. End the run, if it may still write.
    update public.mcp_health_check_runs as r
    set finished_at = now(),
        connections = (p_summary ->> 'connections')::integer,
        servers = (p_summary ->> 'servers')::integer,
        probed = (p_summary ->> 'probed')::integer,
        healthy = (p_summary ->> 'healthy')::integer,
        unhealthy = (p_summary ->> 'unhealthy')::integer,
        skipped = (p_summary ->> 'skipped')::integer,
        duration_ms = (p_summary ->> 'durationMs')::integer
    where r.id = p_run_id
      and r.finished_at is null
      and not exists (
          select 1 from public.mcp_health_check_runs as newer
          where newer.started_at > r.started_at and newer.id <> r.id
      );
    if not found then
        raise exception 'health check run % has ended or was superseded', p_run_id
            using errcode = '55000';
    end if;

    -- 2. The history, 3. per-connection health and 4. the connections: one
    --    statement over the outcomes, parsed once in a CTE (not a temporary table,
    --    which plpgsql_check and `supabase db lint` cannot see).
    --    A failure counts towards the threshold; the first success resets it.
    return query
    with outcomes as (
        select (o ->> 'serverId')::uuid as mcp_server_instance_id,
               o ->> 'targetKey' as target_key,
               o -> 'result' as result,
               (o #>> '{result,success}')::boolean as success,
               now() as checked_at
        from jsonb_array_elements(p_results) as o
    ),
    history as (
        insert into public.mcp_health_checks
            (run_id, mcp_server_instance_id, target_key, checked_at, success, latency_ms, error_class, http_status)
        select p_run_id, o.mcp_server_instance_id, o.target_key, o.checked_at, o.success,
               (o.result ->> 'latency')::integer,
               o.result #>> '{error,class}',
               (o.result #>> '{error,httpStatus}')::smallint
        from outcomes as o
    ),
    affected as (
        select c.id, c.connection_status, c.updated_at, o.success, o.result, o.checked_at,
               o.mcp_server_instance_id, o.target_key,
               case when o.success then 0
                    else coalesce(h.consecutive_failures, 0) + 1 end as failures
        from public.agent_mcp_connections as c
        join outcomes as o
          on o.mcp_server_instance_id = c.mcp_server_instance_id
         and o.target_key = public.probe_target_key(c.connection_config)
        left join public.agent_mcp_connection_health as h on h.connection_id = c.id
        where c.is_active
          and (p_server_ids is null or c.mcp_server_instance_id = any (p_server_ids))
          and (p_connection_ids is null or c.id = any (p_connection_ids))
    ),
    decided as (
        select a.*,
               case
                   -- A user's own test in progress decides; one stuck for 10 minutes does not.
                   when a.connection_status = 'testing' and a.updated_at > now() - interval '10 minutes'
                       then a.connection_status
                   when a.success then 'connected'
                   when a.failures >= p_failure_threshold or a.connection_status = 'testing' then 'error'
                   else a.connection_status
               end as new_status
        from affected as a
    ),
    health as (
        insert into public.agent_mcp_connection_health as h (
            connection_id, consecutive_failures, last_checked_at, last_success_at,
            last_failure_at, last_error_class, last_status_change_at
        )
        select d.id, d.failures, d.checked_at,
               case when d.success then d.checked_at end,
               case when not d.success then d.checked_at end,
               d.result #>> '{error,class}',
               case when d.new_status <> d.connection_status then d.checked_at end
        from decided as d
        on conflict (connection_id) do update set
            consecutive_failures = excluded.consecutive_failures,
            last_checked_at = excluded.last_checked_at,
            last_success_at = coalesce(excluded.last_success_at, h.last_success_at),
            last_failure_at = coalesce(excluded.last_failure_at, h.last_failure_at),
            last_error_class = coalesce(excluded.last_error_class, h.last_error_class),
            last_status_change_at = coalesce(excluded.last_status_change_at, h.last_status_change_at)
    ),
    -- A connection disconnected meanwhile is left alone (re-checked on the newest row).
    connections as (
        update public.agent_mcp_connections as c
        set connection_test_result = d.result,
            connection_status = d.new_status
        from decided as d
        where c.id = d.id
          and c.is_active
    )
    -- Data-modifying CTEs run to completion whether or not they are read.
    select d.mcp_server_instance_id, d.target_key,
           count(*) filter (where d.new_status = 'error')::integer,
           count(*) filter (where d.new_status = 'connected')::integer
    from decided as d
    where (d.new_status = 'error' and d.connection_status <> 'error')
       or (d.new_status = 'connected' and d.connection_status = 'error')
    group by d.mcp_server_instance_id, d.target_key;

    -- 5. Retention.
    delete from public.mcp_health_checks
    where checked_at < now() - make_interval(days => p_retention_days);
    delete from public.mcp_health_check_runs
    where started_at < now() - make_interval(days => p_retention_days)
      and finished_at is not null;
end;
$$;


-- -----------------------------------------------------------------------------
-- Section: grants of the run functions (service_role only)
-- -----------------------------------------------------------------------------

revoke execute on function public.mcp_health_check_targets(uuid[], uuid[]) from public, anon, authenticated;
revoke execute on function public.begin_mcp_health_check_run(integer) from public, anon, authenticated;
revoke execute on function public.record_mcp_health_check_run(uuid, jsonb, jsonb, uuid[], uuid[], integer, integer)
    from public, anon, authenticated;
grant execute on function public.mcp_health_check_targets(uuid[], uuid[]) to service_role;
grant execute on function public.begin_mcp_health_check_run(integer) to service_role;
grant execute on function public.record_mcp_health_check_run(uuid, jsonb, jsonb, uuid[], uuid[], integer, integer)
    to service_role;
