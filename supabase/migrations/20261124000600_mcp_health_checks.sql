-- =============================================================================
-- Scheduled health checks of active connections (the research draft's
-- "automated health monitoring" and "analytics views").
--
-- A cycle (mcp-health-check function, service_role) probes each distinct target
-- once: an MCP server, the owner of the connection (the agent's user) and the
-- probe-relevant part of its config (timeout, retries, custom headers). The
-- owner is part of the target, so two users never share a probe, a result or a
-- history row: nothing one user sees is derived from another user's config
-- (issue 12, item 1: a shared target let a user confirm guesses of another
-- user's secret header). One user's identical configs still share one probe.
--
-- A cycle is split into batches that each fit well inside one invocation of the
-- function (2 s CPU, 256 MB on the platform): an invocation claims one batch
-- (`for update skip locked`, a short lease), probes it, and writes its outcomes
-- in a fixed number of statements. Several invocations work in parallel; a live
-- invocation renews its short lease every few seconds, one that dies only delays
-- its own batch until the lease runs out, after which a later invocation claims
-- it again (a batch that killed three is given up).
--
--   mcp_health_check_runs          one row per cycle: options, counts, progress
--   mcp_health_check_batches       the cycle's targets, cut in batches; leases
--   mcp_health_checks              one row per target and cycle: the history
--   agent_mcp_connection_health    per connection: consecutive failures, last
--                                  check, last failure and its class, last change
--   agent_mcp_connection_health_summary (view)
--                                  per connection: uptime 24 h / 7 d, p50/p95/p99
--                                  latency, last failure, last status change
--
-- Fairness: targets are ordered round-robin across owners (each owner's least
-- recently checked target first, owners in an order that changes every cycle),
-- an owner gets at most N distinct targets per cycle, and an origin (scheme,
-- host, port) at most M probe attempts per cycle; what does not fit is skipped
-- and counted with its reason. Servers whose status_on_toolbox is not 'running'
-- are skipped too (reason server_not_running).
--
-- A connection turns 'error' only after N consecutive failed checks (default 3),
-- and 'connected' at the first success. Users read the health of their own
-- connections and the history of their own targets only; only service_role writes.
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: probe targets
-- -----------------------------------------------------------------------------

-- The part of a connection's config that changes a probe's outcome, as a key.
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
    'Key of the probe-relevant config (timeout, retryAttempts, customHeaders).';

-- Signed-in users (the health views call it through the owner's key) and
-- service_role; not anon, nor PUBLIC.
revoke execute on function public.probe_target_key(jsonb) from public, anon;
grant execute on function public.probe_target_key(jsonb) to authenticated, service_role;

-- The key of a probe target: the owner (agents.user_id) and the probe-relevant
-- config. Connections of one server with equal keys share one probe per cycle;
-- connections of different owners never do.
create or replace function public.probe_target_key(owner_id uuid, config jsonb)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
    select md5(owner_id::text || '/' || public.probe_target_key(config));
$$;

comment on function public.probe_target_key(uuid, jsonb) is
    'Key of a probe target: owner and probe-relevant config. Equal keys (one owner) share a probe.';

-- The origin (scheme://host[:port], lower case) of a server URL: per-origin
-- budgets and concurrency count by it. Null for what is not a URL.
create or replace function public.mcp_url_origin(url text)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
    select lower(substring(url from '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]+'));
$$;

comment on function public.mcp_url_origin(text) is
    'scheme://host[:port] of a URL, lower case: the unit of per-origin budgets.';


-- -----------------------------------------------------------------------------
-- Section: databases that have the first version of these tables
-- -----------------------------------------------------------------------------

-- The first version had one run per invocation and history shared across owners.
-- Its history cannot be attributed to an owner, so it is dropped with the runs.
do $$
begin
    if to_regclass('public.mcp_health_checks') is not null and not exists (
        select 1 from information_schema.columns
        where table_schema = 'public' and table_name = 'mcp_health_checks' and column_name = 'owner_id'
    ) then
        delete from public.mcp_health_check_runs;
        alter table public.mcp_health_checks
            add column owner_id uuid not null references auth.users (id) on delete cascade;
        alter table public.mcp_health_check_runs
            drop column if exists probed,
            add column targets integer,
            add column batches integer,
            add column batches_done integer not null default 0,
            add column probed integer not null default 0,
            add column skip_reasons jsonb not null default '{}',
            add column server_ids uuid[],
            add column connection_ids uuid[],
            add column failure_threshold integer not null default 3
                constraint mcp_health_check_runs_threshold_check check (failure_threshold between 1 and 100),
            add column retention_days integer not null default 14
                constraint mcp_health_check_runs_retention_check check (retention_days between 1 and 3650),
            add column options jsonb not null default '{}';
        alter table public.mcp_health_check_runs
            alter column healthy set default 0, alter column healthy set not null,
            alter column unhealthy set default 0, alter column unhealthy set not null,
            alter column skipped set default 0, alter column skipped set not null;
    end if;
end;
$$;

-- The first version's run functions (other signatures: dropped, not overloaded).
drop function if exists public.mcp_health_check_targets(uuid[], uuid[]);
drop function if exists public.begin_mcp_health_check_run(integer);
drop function if exists public.record_mcp_health_check_run(uuid, jsonb, jsonb, uuid[], uuid[], integer, integer);


-- -----------------------------------------------------------------------------
-- Section: tables
-- -----------------------------------------------------------------------------

-- One row per cycle. It is live while lease_expires_at is ahead (extended by
-- every batch claim): a new cycle is refused meanwhile. An unfinished cycle whose
-- lease ran out (its invocations died) is resumed by the next call.
create table if not exists public.mcp_health_check_runs (
    id uuid primary key default gen_random_uuid(),
    started_at timestamptz not null default now(),
    lease_expires_at timestamptz not null,
    finished_at timestamptz,
    -- What the cycle covers (filled when its batches are built).
    connections integer,
    servers integer,
    targets integer,
    batches integer,
    -- Progress: batches done (or given up), targets probed, with their outcome, or skipped.
    batches_done integer not null default 0,
    probed integer not null default 0,
    healthy integer not null default 0,
    unhealthy integer not null default 0,
    skipped integer not null default 0,
    -- Skipped targets by reason: {"owner_cap": 3, "server_not_running": 1, ...}.
    skip_reasons jsonb not null default '{}',
    duration_ms integer,
    -- The cycle's options: filters, status rules, and how invocations probe.
    server_ids uuid[],
    connection_ids uuid[],
    failure_threshold integer not null default 3,
    retention_days integer not null default 14,
    options jsonb not null default '{}',
    constraint mcp_health_check_runs_lease_after_start check (lease_expires_at > started_at),
    constraint mcp_health_check_runs_threshold_check check (failure_threshold between 1 and 100),
    constraint mcp_health_check_runs_retention_check check (retention_days between 1 and 3650)
);

create index if not exists mcp_health_check_runs_started_at_idx
    on public.mcp_health_check_runs (started_at);
-- Finding the open cycle.
create index if not exists mcp_health_check_runs_open_idx
    on public.mcp_health_check_runs (started_at) where finished_at is null;

comment on table public.mcp_health_check_runs is
    'Health check cycles: options, targets and batches, progress and outcome counts, and the lease of the cycle.';

-- A cycle's targets, cut in batches of at most the cycle's batch size. An
-- invocation claims a pending batch (or one whose lease ran out) and records it.
-- targets: [{"serverId", "ownerId", "targetKey", "url", "probeConfig", "connections"}]
-- (probeConfig and url are removed once the batch is done: no copies of secrets).
create table if not exists public.mcp_health_check_batches (
    id bigint generated always as identity primary key,
    run_id uuid not null references public.mcp_health_check_runs (id) on delete cascade,
    batch_no integer not null,
    state text not null default 'pending',
    targets jsonb not null,
    target_count integer not null,
    attempts integer not null default 0,
    claim uuid,
    claimed_at timestamptz,
    lease_expires_at timestamptz,
    finished_at timestamptz,
    probed integer,
    healthy integer,
    unhealthy integer,
    skipped integer,
    constraint mcp_health_check_batches_state_check
        check (state in ('pending', 'claimed', 'done', 'failed')),
    constraint mcp_health_check_batches_no_key unique (run_id, batch_no)
);

-- Claiming reads the open batches of one cycle in order.
create index if not exists mcp_health_check_batches_open_idx
    on public.mcp_health_check_batches (run_id, batch_no) where state in ('pending', 'claimed');

comment on table public.mcp_health_check_batches is
    'A health check cycle''s targets in batches, each claimed by one invocation under a short lease.';

-- The compact history: one row per probed target and cycle.
create table if not exists public.mcp_health_checks (
    id bigint generated always as identity primary key,
    run_id uuid not null references public.mcp_health_check_runs (id) on delete cascade,
    mcp_server_instance_id uuid not null
        references public.account_tool_instances (id) on delete cascade,
    -- The owner whose connections the target stands for: the only user who reads the row.
    owner_id uuid not null references auth.users (id) on delete cascade,
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
-- The read policy and the owner's foreign key.
create index if not exists mcp_health_checks_owner_id_idx on public.mcp_health_checks (owner_id);
-- Retention deletes by age.
create index if not exists mcp_health_checks_checked_at_idx on public.mcp_health_checks (checked_at);

comment on table public.mcp_health_checks is
    'Health check outcomes: one row per (MCP server, owner, probe-relevant config) and cycle.';

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
alter table public.mcp_health_check_batches enable row level security;
alter table public.mcp_health_checks enable row level security;
alter table public.agent_mcp_connection_health enable row level security;

-- Cycles and batches are operational data: service_role only (no policy for anyone else).
-- Users read the history and health of their own connections (policies below).
-- Nobody gets TRUNCATE, REFERENCES or TRIGGER. The identity sequences need no
-- grant: an identity column draws its value without a USAGE check.
revoke all on table public.mcp_health_check_runs from public, anon, authenticated, service_role;
revoke all on table public.mcp_health_check_batches from public, anon, authenticated, service_role;
revoke all on table public.mcp_health_checks from public, anon, authenticated, service_role;
revoke all on table public.agent_mcp_connection_health from public, anon, authenticated, service_role;
grant select, insert, update, delete on table public.mcp_health_check_runs to service_role;
grant select, insert, update, delete on table public.mcp_health_check_batches to service_role;
grant select, insert, update, delete on table public.mcp_health_checks to service_role;
grant select, insert, update, delete on table public.agent_mcp_connection_health to service_role;
grant select on table public.mcp_health_checks to authenticated;
grant select on table public.agent_mcp_connection_health to authenticated;

-- A user reads the checks written for their own targets only: the owner is
-- part of every row, so a config equal to another user's shows nothing of theirs.
drop policy if exists "Users can view health checks of their connections" on public.mcp_health_checks;
drop policy if exists "Users can view health checks of their own targets" on public.mcp_health_checks;
create policy "Users can view health checks of their own targets" on public.mcp_health_checks
    for select to authenticated
    using (owner_id = (select auth.uid()));

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
-- connections, agents and checks keeps each user to their own; a connection
-- reads the history of its own target (its owner's key), never another owner's.
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
join public.agents as a on a.id = c.agent_id
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
      and k.target_key = public.probe_target_key(a.user_id, c.connection_config)
      and k.owner_id = a.user_id
      and k.checked_at > now() - interval '7 days'
) as w
where c.is_active;

comment on view public.agent_mcp_connection_health_summary is
    'Uptime (24 h, 7 d), latency percentiles (24 h) and last failure of the caller''s active connections.';

revoke all on table public.agent_mcp_connection_health_summary from public, anon, authenticated, service_role;
grant select on table public.agent_mcp_connection_health_summary to authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: the targets of a cycle, in fair order
-- -----------------------------------------------------------------------------

-- The distinct targets of active connections (optionally limited to some servers
-- or connections), in the order a cycle probes them, each with why it is
-- skipped (or null):
--   * server_not_running: the server's status_on_toolbox is not 'running';
--   * no_url: the server has no URL;
--   * owner_cap: the owner has more than p_max_targets_per_owner targets (their
--     least recently checked ones go first, so the rest get their turn later);
--   * origin_budget: the probe attempts (1 + retries) of the origin's earlier
--     targets already reach p_max_attempts_per_origin.
-- Order: every owner's first target, then every owner's second, ...; owners in
-- an order drawn from p_seed (a new one each cycle), so no owner is always last.
create or replace function public.mcp_health_check_targets(
    p_server_ids uuid[] default null,
    p_connection_ids uuid[] default null,
    p_max_targets_per_owner integer default 50,
    p_max_attempts_per_origin integer default 250,
    p_seed text default ''
)
returns table (
    target_position integer,
    mcp_server_instance_id uuid,
    owner_id uuid,
    target_key text,
    mcp_server_url text,
    probe_config jsonb,
    connections integer,
    skip_reason text
)
language sql
stable
security invoker
set search_path = ''
as $$
    with connection_targets as (
        select
            c.mcp_server_instance_id,
            a.user_id as owner_id,
            s.mcp_server_url,
            s.status_on_toolbox,
            jsonb_strip_nulls(jsonb_build_object(
                'timeout', c.connection_config -> 'timeout',
                'retryAttempts', c.connection_config -> 'retryAttempts',
                'customHeaders', c.connection_config -> 'customHeaders'
            )) as probe_config,
            h.last_checked_at
        from public.agent_mcp_connections as c
        join public.agents as a on a.id = c.agent_id
        join public.account_tool_instances as s on s.id = c.mcp_server_instance_id
        left join public.agent_mcp_connection_health as h on h.connection_id = c.id
        where c.is_active
          and (p_server_ids is null or c.mcp_server_instance_id = any (p_server_ids))
          and (p_connection_ids is null or c.id = any (p_connection_ids))
    ),
    targets as (
        select
            t.mcp_server_instance_id,
            t.owner_id,
            public.probe_target_key(t.owner_id, t.probe_config) as target_key,
            t.mcp_server_url,
            t.status_on_toolbox,
            t.probe_config,
            count(*)::integer as connections,
            -- Never checked sorts first (nulls first), then the oldest check.
            min(t.last_checked_at) as last_checked_at
        from connection_targets as t
        group by t.mcp_server_instance_id, t.owner_id, t.mcp_server_url, t.status_on_toolbox,
                 t.probe_config
    ),
    probeable as (
        select
            t.*,
            case
                when t.status_on_toolbox <> 'running' then 'server_not_running'
                when t.mcp_server_url is null then 'no_url'
            end as static_skip
        from targets as t
    ),
    ranked as (
        select
            p.*,
            -- The owner's n-th target among the probeable ones (least recently checked first).
            row_number() over (
                partition by p.owner_id, p.static_skip is null
                order by p.last_checked_at nulls first, p.mcp_server_instance_id, p.target_key
            ) as owner_rank,
            md5(p.owner_id::text || p_seed) as owner_order,
            public.mcp_url_origin(p.mcp_server_url) as origin,
            1 + coalesce((p.probe_config ->> 'retryAttempts')::integer, 2) as attempts
        from probeable as p
    ),
    ordered as (
        select
            r.*,
            row_number() over (
                order by r.static_skip is not null, r.owner_rank, r.owner_order,
                         r.mcp_server_instance_id, r.target_key
            )::integer as target_position
        from ranked as r
    ),
    budgeted as (
        select
            o.*,
            -- Attempts the origin has spent up to and including this target, counting
            -- only targets that are probed (not capped, not skipped).
            sum(o.attempts) filter (where o.static_skip is null and o.owner_rank <= p_max_targets_per_owner)
                over (partition by o.origin order by o.target_position) as origin_attempts
        from ordered as o
    )
    select
        b.target_position,
        b.mcp_server_instance_id,
        b.owner_id,
        b.target_key,
        b.mcp_server_url,
        b.probe_config,
        b.connections,
        case
            when b.static_skip is not null then b.static_skip
            when b.owner_rank > p_max_targets_per_owner then 'owner_cap'
            when b.origin_attempts > p_max_attempts_per_origin then 'origin_budget'
        end as skip_reason
    from budgeted as b
    order by b.target_position;
$$;


-- -----------------------------------------------------------------------------
-- Section: ending a cycle
-- -----------------------------------------------------------------------------

-- Ends a cycle when none of its batches is open any more: sets finished_at and its
-- duration, and deletes history and cycles older than the cycle's retention.
-- Returns whether the cycle is finished. The caller holds the cycle's row lock.
create or replace function public.finish_mcp_health_check_run(p_run_id uuid)
returns boolean
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    retention integer;
begin
    update public.mcp_health_check_runs as r
    set finished_at = now(),
        duration_ms = round(extract(epoch from now() - r.started_at) * 1000)::integer
    where r.id = p_run_id
      and r.finished_at is null
      and not exists (
          select 1 from public.mcp_health_check_batches as b
          where b.run_id = r.id and b.state in ('pending', 'claimed')
      )
    returning r.retention_days into retention;
    if not found then
        return exists (
            select 1 from public.mcp_health_check_runs
            where id = p_run_id and finished_at is not null
        );
    end if;

    -- Retention, once per cycle.
    delete from public.mcp_health_checks
    where checked_at < now() - make_interval(days => retention);
    delete from public.mcp_health_check_runs
    where started_at < now() - make_interval(days => retention)
      and finished_at is not null;
    return true;
end;
$$;


-- -----------------------------------------------------------------------------
-- Section: starting a cycle
-- -----------------------------------------------------------------------------

-- Starts a cycle, or resumes the unfinished one whose invocations all died.
-- Returns one row: the cycle's id and whether it was resumed; run_id is null when
-- a cycle is in progress (live lease), with the seconds until that lease ends.
-- A new cycle's targets (mcp_health_check_targets, in fair order) are cut into
-- batches of p_batch_size in one statement; a cycle without targets ends at once.
-- A target whose timeout is longer than p_options' longTimeoutMs (what fits in a
-- batch's budget; a config without one has defaultTimeoutMs) would never be probed
-- in such a batch: these go first, in batches of their own of at most
-- least(concurrency, perHostConcurrency) targets, so that all of a batch start at
-- once whatever their origins, and the invocation gives such a batch the budget of
-- its longest timeout (docs/health-check.md).
create or replace function public.begin_mcp_health_check_run(
    p_lease_seconds integer,
    p_batch_size integer default 100,
    p_server_ids uuid[] default null,
    p_connection_ids uuid[] default null,
    p_max_targets_per_owner integer default 50,
    p_max_attempts_per_origin integer default 250,
    p_failure_threshold integer default 3,
    p_retention_days integer default 14,
    p_options jsonb default '{}'
)
returns table (run_id uuid, resumed boolean, retry_after_seconds integer)
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    open_run public.mcp_health_check_runs%rowtype;
    new_run uuid;
    long_timeout integer := coalesce((p_options ->> 'longTimeoutMs')::integer, 2147483647);
    default_timeout integer := coalesce((p_options ->> 'defaultTimeoutMs')::integer, 0);
    long_batch_size integer := greatest(1, least(
        coalesce((p_options ->> 'concurrency')::integer, 1),
        coalesce((p_options ->> 'perHostConcurrency')::integer, 1)));
begin
    if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
        raise exception 'lease must be 1 to 3600 seconds' using errcode = '22023';
    end if;
    if p_batch_size is null or p_batch_size not between 1 and 1000 then
        raise exception 'batch size must be 1 to 1000' using errcode = '22023';
    end if;
    if p_max_targets_per_owner is null or p_max_targets_per_owner < 1
       or p_max_attempts_per_origin is null or p_max_attempts_per_origin < 1 then
        raise exception 'target and origin caps must be positive' using errcode = '22023';
    end if;
    if p_failure_threshold is null or p_failure_threshold not between 1 and 100 then
        raise exception 'failure threshold must be 1 to 100' using errcode = '22023';
    end if;
    if p_retention_days is null or p_retention_days not between 1 and 3650 then
        raise exception 'retention must be 1 to 3650 days' using errcode = '22023';
    end if;
    -- Serialises concurrent starts; released at commit.
    perform pg_advisory_xact_lock(hashtextextended('public.mcp_health_check_runs', 0));

    select * into open_run from public.mcp_health_check_runs
    where finished_at is null
    order by started_at
    limit 1;
    if found then
        if open_run.lease_expires_at > now() then
            return query select null::uuid, false,
                ceil(extract(epoch from open_run.lease_expires_at - now()))::integer;
        else
            -- Its invocations died: the next one continues it (its own options).
            update public.mcp_health_check_runs
            set lease_expires_at = now() + make_interval(secs => p_lease_seconds)
            where id = open_run.id;
            return query select open_run.id, true, null::integer;
        end if;
        return;
    end if;

    insert into public.mcp_health_check_runs (
        lease_expires_at, server_ids, connection_ids, failure_threshold, retention_days, options
    )
    values (
        now() + make_interval(secs => p_lease_seconds), p_server_ids, p_connection_ids,
        p_failure_threshold, p_retention_days,
        coalesce(p_options, '{}') || jsonb_build_object(
            'batchSize', p_batch_size,
            'leaseSeconds', p_lease_seconds,
            'maxTargetsPerOwner', p_max_targets_per_owner,
            'maxAttemptsPerOrigin', p_max_attempts_per_origin
        )
    )
    returning id into new_run;

    -- The batches and the cycle's counts, in one statement.
    with targets as (
        select * from public.mcp_health_check_targets(
            p_server_ids, p_connection_ids, p_max_targets_per_owner, p_max_attempts_per_origin,
            new_run::text
        )
    ),
    sized as (
        select t.*,
               coalesce((t.probe_config ->> 'timeout')::integer, default_timeout) > long_timeout
                   as long_target
        from targets as t
        where t.skip_reason is null
    ),
    -- The long ones' batches first, then the others', each kind in fair order.
    probed as (
        select s.*,
               case when s.long_target
                   then (row_number() over (partition by s.long_target order by s.target_position) - 1)
                        / long_batch_size
                   else ceil((count(*) filter (where s.long_target) over ())::numeric
                             / long_batch_size)::integer
                        + (row_number() over (partition by s.long_target order by s.target_position) - 1)
                        / p_batch_size
               end as batch_no
        from sized as s
    ),
    batches as (
        insert into public.mcp_health_check_batches (run_id, batch_no, targets, target_count)
        select new_run, p.batch_no,
               jsonb_agg(jsonb_build_object(
                   'serverId', p.mcp_server_instance_id,
                   'ownerId', p.owner_id,
                   'targetKey', p.target_key,
                   'url', p.mcp_server_url,
                   'probeConfig', p.probe_config,
                   'connections', p.connections,
                   -- What the target spoke at its last success (the owner's own
                   -- connections only): the probe starts there, and falls back as usual.
                   'hint', (
                       select jsonb_build_object(
                           'era', c.connection_test_result ->> 'era',
                           'transport', c.connection_test_result ->> 'transport')
                       from public.agent_mcp_connections as c
                       join public.agents as a on a.id = c.agent_id
                       where c.mcp_server_instance_id = p.mcp_server_instance_id
                         and a.user_id = p.owner_id
                         and c.is_active
                         and (c.connection_test_result ->> 'success')::boolean
                         and public.probe_target_key(a.user_id, c.connection_config) = p.target_key
                       order by c.updated_at desc
                       limit 1)
               ) order by p.target_position),
               count(*)
        from probed as p
        group by p.batch_no
        returning 1
    ),
    reasons as (
        select coalesce(jsonb_object_agg(r.skip_reason, r.n), '{}') as skip_reasons,
               coalesce(sum(r.n), 0)::integer as skipped
        from (
            select t.skip_reason, count(*)::integer as n
            from targets as t where t.skip_reason is not null
            group by t.skip_reason
        ) as r
    )
    update public.mcp_health_check_runs as r
    set connections = (select coalesce(sum(t.connections), 0) from targets as t),
        servers = (select count(distinct t.mcp_server_instance_id) from targets as t),
        targets = (select count(*) from targets),
        batches = (select count(*) from batches),
        skipped = reasons.skipped,
        skip_reasons = reasons.skip_reasons
    from reasons
    where r.id = new_run;

    perform public.finish_mcp_health_check_run(new_run);
    return query select new_run, false, null::integer;
end;
$$;


-- -----------------------------------------------------------------------------
-- Section: claiming a batch
-- -----------------------------------------------------------------------------

-- What a caller learns of a cycle: its counts and how much work is left.
create or replace function public.mcp_health_check_run_state(p_run_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
    select jsonb_build_object(
        'runId', r.id,
        'startedAt', r.started_at,
        'finishedAt', r.finished_at,
        'connections', coalesce(r.connections, 0),
        'servers', coalesce(r.servers, 0),
        'targets', coalesce(r.targets, 0),
        'batches', coalesce(r.batches, 0),
        'batchesDone', r.batches_done,
        'probed', r.probed,
        'healthy', r.healthy,
        'unhealthy', r.unhealthy,
        'skipped', r.skipped,
        'skipReasons', r.skip_reasons,
        'options', r.options,
        -- Batches another invocation could claim now.
        'claimable', (
            select count(*) from public.mcp_health_check_batches as b
            where b.run_id = r.id
              and (b.state = 'pending' or (b.state = 'claimed' and b.lease_expires_at <= now()))
        )
    )
    from public.mcp_health_check_runs as r
    where r.id = p_run_id;
$$;

-- Claims the cycle's next batch: a pending one, or one whose lease ran out (its
-- invocation died), first come first served across parallel invocations
-- (`for update skip locked`). The lease is the cycle's own (options.leaseSeconds,
-- set when it started); p_lease_seconds serves only a cycle without one. A batch already claimed p_max_attempts times whose
-- lease ran out is given up: its targets count as skipped (batch_failed).
-- Returns {"batch": {id, batchNo, claim, attempt, targets} | null, "run": state}.
create or replace function public.claim_mcp_health_check_batch(
    p_run_id uuid,
    p_lease_seconds integer,
    p_max_attempts integer default 3
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    claimed record;
    given_up integer;
    given_up_targets integer;
    lease integer;
begin
    if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
        raise exception 'lease must be 1 to 3600 seconds' using errcode = '22023';
    end if;
    select coalesce((r.options ->> 'leaseSeconds')::integer, p_lease_seconds) into lease
    from public.mcp_health_check_runs as r
    where r.id = p_run_id;
    if not found then
        raise exception 'health check run % does not exist', p_run_id using errcode = 'P0002';
    end if;

    -- Batches that killed every invocation that took them are given up.
    with failed as (
        update public.mcp_health_check_batches as b
        set state = 'failed', finished_at = now(), skipped = b.target_count
        where b.run_id = p_run_id
          and b.state = 'claimed'
          and b.lease_expires_at <= now()
          and b.attempts >= p_max_attempts
        returning b.target_count
    )
    select count(*)::integer, coalesce(sum(f.target_count), 0)::integer
    into given_up, given_up_targets
    from failed as f;
    if given_up > 0 then
        update public.mcp_health_check_runs as r
        set batches_done = r.batches_done + given_up,
            skipped = r.skipped + given_up_targets,
            skip_reasons = r.skip_reasons || jsonb_build_object(
                'batch_failed',
                coalesce((r.skip_reasons ->> 'batch_failed')::integer, 0) + given_up_targets
            )
        where r.id = p_run_id;
        perform public.finish_mcp_health_check_run(p_run_id);
    end if;

    select b.id into claimed
    from public.mcp_health_check_batches as b
    where b.run_id = p_run_id
      and (b.state = 'pending' or (b.state = 'claimed' and b.lease_expires_at <= now()))
    order by b.batch_no
    limit 1
    for update skip locked;

    if claimed.id is null then
        return jsonb_build_object('batch', null, 'run', public.mcp_health_check_run_state(p_run_id));
    end if;

    update public.mcp_health_check_batches as b
    set state = 'claimed',
        claim = gen_random_uuid(),
        claimed_at = now(),
        lease_expires_at = now() + make_interval(secs => lease),
        attempts = b.attempts + 1
    where b.id = claimed.id
    returning b.id, b.batch_no, b.claim, b.attempts, b.targets, b.lease_expires_at into claimed;

    -- The cycle stays live while any of its batches does.
    update public.mcp_health_check_runs
    set lease_expires_at = greatest(lease_expires_at, claimed.lease_expires_at)
    where id = p_run_id;

    return jsonb_build_object(
        'batch', jsonb_build_object(
            'id', claimed.id,
            'batchNo', claimed.batch_no,
            'claim', claimed.claim,
            'attempt', claimed.attempts,
            'targets', claimed.targets
        ),
        'run', public.mcp_health_check_run_state(p_run_id)
    );
end;
$$;


-- Keeps a claim's lease alive while its invocation works (called every few
-- seconds): the lease can stay short, so a dead invocation's batch is soon free,
-- while a slow live one is never claimed twice. Returns whether the claim still
-- holds the batch (false: its lease ran out and another invocation took it).
create or replace function public.extend_mcp_health_check_batch_lease(p_batch_id bigint, p_claim uuid)
returns boolean
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    expires timestamptz;
    cycle_id uuid;
begin
    update public.mcp_health_check_batches as b
    set lease_expires_at = now() + make_interval(
        secs => coalesce((r.options ->> 'leaseSeconds')::integer, 60)
    )
    from public.mcp_health_check_runs as r
    where b.id = p_batch_id
      and b.claim = p_claim
      and b.state = 'claimed'
      and r.id = b.run_id
    returning b.lease_expires_at, b.run_id into expires, cycle_id;
    if not found then
        return false;
    end if;
    update public.mcp_health_check_runs
    set lease_expires_at = greatest(lease_expires_at, expires)
    where id = cycle_id;
    return true;
end;
$$;


-- -----------------------------------------------------------------------------
-- Section: recording a batch
-- -----------------------------------------------------------------------------

-- Writes one batch's outcomes in a fixed number of statements, whatever the
-- batch's size, and ends the cycle after its last batch.
--   p_batch_id, p_claim: the batch and the claim it was given (a claim that ran
--     out and was taken by another invocation may not write: 55000)
--   p_results: [{"serverId", "targetKey", "result": <connection_test_result>}, ...]
--     (only targets of the batch count; the owner comes from the batch)
--   p_skipped: {"<reason>": count} of the batch's targets the invocation skipped
-- Returns {"transitions": [{serverId, targetKey, becameUnhealthy, becameHealthy}],
-- "run": state}: a transition per target whose connections changed status.
create or replace function public.record_mcp_health_check_batch(
    p_batch_id bigint,
    p_claim uuid,
    p_results jsonb,
    p_skipped jsonb default '{}'
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    batch record;
    run_row public.mcp_health_check_runs%rowtype;
    transitions jsonb;
    outcome record;
begin
    if p_results is null or jsonb_typeof(p_results) <> 'array' then
        raise exception 'results must be a JSON array' using errcode = '22023';
    end if;
    if p_skipped is null or jsonb_typeof(p_skipped) <> 'object' then
        raise exception 'skipped must be a JSON object' using errcode = '22023';
    end if;

    -- 1. The batch, if this claim still holds it.
    select b.id, b.run_id, b.targets into batch
    from public.mcp_health_check_batches as b
    where b.id = p_batch_id and b.claim = p_claim and b.state = 'claimed'
    for update;
    if not found then
        raise exception 'health check batch % is not held by this claim', p_batch_id
            using errcode = '55000';
    end if;
    -- 2. The cycle's options (read only: its row is locked only for the counts, at
    --    the end, so batches of one cycle write their outcomes in parallel).
    select * into run_row from public.mcp_health_check_runs where id = batch.run_id;

    -- 3. History, per-connection health and the connections: one statement.
    --    A failure counts towards the threshold; the first success resets it.
    with outcomes as (
        select (t ->> 'serverId')::uuid as mcp_server_instance_id,
               (t ->> 'ownerId')::uuid as owner_id,
               t ->> 'targetKey' as target_key,
               r.result,
               (r.result ->> 'success')::boolean as success,
               now() as checked_at
        from jsonb_array_elements(batch.targets) as t
        join jsonb_to_recordset(p_results) as r ("serverId" uuid, "targetKey" text, result jsonb)
          on r."serverId" = (t ->> 'serverId')::uuid and r."targetKey" = t ->> 'targetKey'
    ),
    history as (
        insert into public.mcp_health_checks (
            run_id, mcp_server_instance_id, owner_id, target_key, checked_at, success,
            latency_ms, error_class, http_status
        )
        select batch.run_id, o.mcp_server_instance_id, o.owner_id, o.target_key, o.checked_at,
               o.success, (o.result ->> 'latency')::integer, o.result #>> '{error,class}',
               (o.result #>> '{error,httpStatus}')::smallint
        from outcomes as o
        returning success
    ),
    affected as (
        select c.id, c.connection_status, c.updated_at, o.success, o.result, o.checked_at,
               o.mcp_server_instance_id, o.target_key,
               case when o.success then 0
                    else coalesce(h.consecutive_failures, 0) + 1 end as failures
        from outcomes as o
        join public.agent_mcp_connections as c
          on c.mcp_server_instance_id = o.mcp_server_instance_id
        join public.agents as a on a.id = c.agent_id and a.user_id = o.owner_id
        left join public.agent_mcp_connection_health as h on h.connection_id = c.id
        where c.is_active
          and public.probe_target_key(a.user_id, c.connection_config) = o.target_key
          and (run_row.server_ids is null or c.mcp_server_instance_id = any (run_row.server_ids))
          and (run_row.connection_ids is null or c.id = any (run_row.connection_ids))
    ),
    decided as (
        select a.*,
               case
                   -- A user's own test in progress decides; one stuck for 10 minutes does not.
                   when a.connection_status = 'testing' and a.updated_at > now() - interval '10 minutes'
                       then a.connection_status
                   when a.success then 'connected'
                   when a.failures >= run_row.failure_threshold or a.connection_status = 'testing' then 'error'
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
    ),
    changed as (
        select d.mcp_server_instance_id, d.target_key,
               count(*) filter (where d.new_status = 'error')::integer as became_unhealthy,
               count(*) filter (where d.new_status = 'connected')::integer as became_healthy
        from decided as d
        where (d.new_status = 'error' and d.connection_status <> 'error')
           or (d.new_status = 'connected' and d.connection_status = 'error')
        group by d.mcp_server_instance_id, d.target_key
    )
    -- Data-modifying CTEs run to completion whether or not they are read.
    select
        (select coalesce(jsonb_agg(jsonb_build_object(
            'serverId', ch.mcp_server_instance_id,
            'targetKey', ch.target_key,
            'becameUnhealthy', ch.became_unhealthy,
            'becameHealthy', ch.became_healthy
        )), '[]') from changed as ch) as transitions,
        (select count(*) from history)::integer as probed,
        (select count(*) filter (where success) from history)::integer as healthy
    into outcome;

    -- 4. The batch is done; its copy of the targets keeps no URL or headers.
    update public.mcp_health_check_batches as b
    set state = 'done',
        finished_at = now(),
        probed = outcome.probed,
        healthy = outcome.healthy,
        unhealthy = outcome.probed - outcome.healthy,
        skipped = b.target_count - outcome.probed,
        targets = (
            select coalesce(jsonb_agg(t - 'url' - 'probeConfig'), '[]')
            from jsonb_array_elements(b.targets) as t
        )
    where b.id = batch.id;

    -- 5. The cycle's counts (skips by reason: what the invocation reported, and any
    --    target it left unreported as "unreported"). This takes the cycle's row lock:
    --    batches ending at once pass here one at a time, so the check below (a new
    --    statement, after the lock) sees every other batch that ended before.
    update public.mcp_health_check_runs as r
    set batches_done = r.batches_done + 1,
        probed = r.probed + outcome.probed,
        healthy = r.healthy + outcome.healthy,
        unhealthy = r.unhealthy + outcome.probed - outcome.healthy,
        skipped = r.skipped + (jsonb_array_length(batch.targets) - outcome.probed),
        skip_reasons = (
            select coalesce(jsonb_object_agg(k, n), '{}')
            from (
                select k, sum(n)::integer as n
                from (
                    select e.key as k, e.value::integer as n
                    from jsonb_each_text(r.skip_reasons) as e
                    union all
                    select e.key, e.value::integer
                    from jsonb_each_text(p_skipped) as e
                    where e.value ~ '^[0-9]{1,9}$'
                    union all
                    select 'unreported', jsonb_array_length(batch.targets) - outcome.probed - (
                        select coalesce(sum(e.value::integer), 0)
                        from jsonb_each_text(p_skipped) as e
                        where e.value ~ '^[0-9]{1,9}$'
                    )
                ) as parts
                group by k
                having sum(n) > 0
            ) as sums
        )
    where r.id = batch.run_id;

    -- 6. After the last batch: the cycle ends (and retention runs).
    perform public.finish_mcp_health_check_run(batch.run_id);

    transitions := outcome.transitions;
    return jsonb_build_object(
        'transitions', transitions,
        'run', public.mcp_health_check_run_state(batch.run_id)
    );
end;
$$;


-- -----------------------------------------------------------------------------
-- Section: grants of the cycle functions (service_role only)
-- -----------------------------------------------------------------------------

-- The two-argument key and the origin helper are pure functions of their
-- arguments (the summary view calls the key as the signed-in user).
revoke execute on function public.probe_target_key(uuid, jsonb) from public, anon;
grant execute on function public.probe_target_key(uuid, jsonb) to authenticated, service_role;
revoke execute on function public.mcp_url_origin(text) from public, anon, authenticated;
grant execute on function public.mcp_url_origin(text) to service_role;

revoke execute on function public.mcp_health_check_targets(uuid[], uuid[], integer, integer, text)
    from public, anon, authenticated;
revoke execute on function public.finish_mcp_health_check_run(uuid) from public, anon, authenticated;
revoke execute on function public.begin_mcp_health_check_run(
    integer, integer, uuid[], uuid[], integer, integer, integer, integer, jsonb
) from public, anon, authenticated;
revoke execute on function public.mcp_health_check_run_state(uuid) from public, anon, authenticated;
revoke execute on function public.claim_mcp_health_check_batch(uuid, integer, integer)
    from public, anon, authenticated;
revoke execute on function public.record_mcp_health_check_batch(bigint, uuid, jsonb, jsonb)
    from public, anon, authenticated;
revoke execute on function public.extend_mcp_health_check_batch_lease(bigint, uuid)
    from public, anon, authenticated;
grant execute on function public.mcp_health_check_targets(uuid[], uuid[], integer, integer, text)
    to service_role;
grant execute on function public.finish_mcp_health_check_run(uuid) to service_role;
grant execute on function public.begin_mcp_health_check_run(
    integer, integer, uuid[], uuid[], integer, integer, integer, integer, jsonb
) to service_role;
grant execute on function public.mcp_health_check_run_state(uuid) to service_role;
grant execute on function public.claim_mcp_health_check_batch(uuid, integer, integer) to service_role;
grant execute on function public.record_mcp_health_check_batch(bigint, uuid, jsonb, jsonb)
    to service_role;
grant execute on function public.extend_mcp_health_check_batch_lease(bigint, uuid) to service_role;
