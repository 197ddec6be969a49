-- =============================================================================
-- Connection recommendations: for one of the caller's agents, which running MCP
-- servers to connect next, and why (issue 17).
--
-- Signals (all already in the database):
--   * co-occurrence: which servers the same agent uses together (active connections);
--   * usage: usage_stats (totalRequests, successfulRequests) of active connections;
--   * health: connection_status and agent_mcp_connection_health.consecutive_failures.
--
-- Private by construction (docs/recommendations.md: nothing derived from one
-- user's config lets another user learn that config or whether that user exists):
--   * every aggregate is counted in distinct USERS, one vote per user: a user with
--     fifty agents weighs as much as a user with one, and a user's usage enters a
--     success rate as that user's own rate (mean of per-user rates), not weighted by
--     their request count;
--   * an aggregate enters a recommendation only when it covers at least k distinct
--     users (k = agent_mcp_recommendation_settings.min_users, 5 or more): the refresh
--     stores nothing below k and the request re-checks the current k;
--   * what a response shows (counts, rates, shares, and the score made from them) is
--     coarsened first: user counts floored to two significant digits in steps of at
--     least 5, success rates floored to 0.1 %, failing shares to 10 %. So one other
--     user adding or removing a connection changes no answer unless the aggregate
--     sits on a step boundary, and then it shows that *some* user among k or more
--     changed, never which;
--   * the precomputed tables have RLS on, no policies and no grants to anon or
--     authenticated: users reach them only through agent_mcp_recommendations(),
--     which applies the threshold and the coarsening;
--   * the caller's own data (the agent's current servers) is used as is.
--   What k-anonymity cannot stop: an adversary who controls k-1 accounts (sybils)
--   can make an aggregate of one real user cross the threshold; resisting that is
--   the platform's sign-up policy, not this module's.
--
-- Fast: the expensive part (server pairs across 1M connections) is precomputed by
-- refresh_agent_mcp_recommendations(), which a scheduler calls (pg_cron on
-- Supabase: supabase/snippets/schedule_agent_mcp_recommendations.sql; the local
-- stack: scripts/stack/database_jobs.ts). The refresh recomputes the
-- per-server aggregates in full and the pairs incrementally (one scan of the
-- active connections; only the users whose agents changed since the last refresh
-- are recounted; measured in `deno task bench --only=recs`), and writes only rows
-- whose values changed, rows that fell below k are deleted, so readers are never
-- blocked (no TRUNCATE, no lock) and an unchanged database causes no writes. Its
-- state (agent_mcp_private.recommendation_*) holds every pair's distinct users and
-- each agent's servers as last counted. A request then reads the agent's own
-- servers, at most partners_per_server pairs for each, and the per-server rows (a
-- few thousand).
--
-- Score of a candidate server c for an agent whose active servers are S:
--   affinity(c)  = sum over s in S of users(s, c) / sqrt(users(s) * users(c))
--                  (item-to-item cosine similarity over distinct users, on the
--                  coarsened counts)
--   popularity(c)= ln(1 + users(c)) / ln(1 + max users), a tie-breaker that also
--                  ranks servers for an agent with no (k-anonymous) neighbours yet
--   score(c)     = (affinity + 0.05 * popularity) * success(c) * (1 - failing(c))
--   success(c): mean of per-user success rates (1 while fewer than k users have
--   usage); failing(c): share of users whose connections to c mostly fail their
--   checks (connection_status 'error' or failure_threshold failed checks in a row).
-- Excluded: servers the agent already uses, servers not 'running', servers whose
-- failing share reaches unhealthy_share, and servers with fewer than k users.
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: settings (k and the other knobs, in one row)
-- -----------------------------------------------------------------------------

-- The one place k lives. Operators change it with service_role:
--   update public.agent_mcp_recommendation_settings set min_users = 10;
-- A higher k takes effect at once (requests re-check it); a lower one at the next refresh.
create table if not exists public.agent_mcp_recommendation_settings (
    id boolean primary key default true,
    min_users integer not null default 5,
    partners_per_server integer not null default 100,
    failure_threshold integer not null default 3,
    unhealthy_share numeric not null default 0.5,
    constraint agent_mcp_recommendation_settings_one_row check (id),
    constraint agent_mcp_recommendation_settings_min_users_check check (min_users between 5 and 1000000),
    constraint agent_mcp_recommendation_settings_partners_check check (partners_per_server between 1 and 1000),
    constraint agent_mcp_recommendation_settings_failure_threshold_check check (failure_threshold between 1 and 100),
    constraint agent_mcp_recommendation_settings_unhealthy_share_check check (unhealthy_share > 0 and unhealthy_share <= 1)
);

comment on table public.agent_mcp_recommendation_settings is
    'Recommendation settings (one row): min_users is k, the fewest distinct users an aggregate must cover.';
comment on column public.agent_mcp_recommendation_settings.min_users is
    'k: an aggregate enters a recommendation only when it covers at least this many distinct users (>= 5).';
comment on column public.agent_mcp_recommendation_settings.partners_per_server is
    'How many co-used servers the refresh keeps per server (the strongest, by distinct users).';
comment on column public.agent_mcp_recommendation_settings.failure_threshold is
    'Failed checks in a row after which a connection counts as failing (as the health check''s default).';
comment on column public.agent_mcp_recommendation_settings.unhealthy_share is
    'Servers whose share of users with failing connections reaches this are not recommended.';

insert into public.agent_mcp_recommendation_settings (id) values (true) on conflict (id) do nothing;


-- -----------------------------------------------------------------------------
-- Section: precomputed aggregates (written by the refresh only)
-- -----------------------------------------------------------------------------

-- Per server, over active connections: distinct users and agents, usage and health.
-- Only servers with at least k users at refresh time are kept.
create table if not exists public.agent_mcp_recommendation_servers (
    mcp_server_instance_id uuid primary key,
    users integer not null,
    agents integer not null,
    usage_users integer not null,
    success_rate numeric,
    failing_users integer not null,
    -- What responses show, coarsened at refresh (see the coarsening section).
    users_shown integer not null,
    success_shown numeric,
    failing_shown numeric not null,
    refreshed_at timestamptz not null default now()
);

comment on table public.agent_mcp_recommendation_servers is
    'Per MCP server: distinct users and agents with an active connection, users with usage, mean per-user '
    'success rate (null below k users with usage), users whose connections mostly fail. Refresh only; '
    'users read it only through agent_mcp_recommendations().';

-- Per ordered server pair: distinct users and agents with one agent using both.
-- Only pairs with at least k users, and per server its partners_per_server strongest.
create table if not exists public.agent_mcp_recommendation_pairs (
    mcp_server_instance_id uuid not null,
    partner_id uuid not null,
    users integer not null,
    agents integer not null,
    users_shown integer not null,
    primary key (mcp_server_instance_id, partner_id)
);

comment on table public.agent_mcp_recommendation_pairs is
    'Server pairs used by one agent together: distinct users and agents (k or more users only). Refresh only; '
    'users read it only through agent_mcp_recommendations().';

-- No foreign keys to account_tool_instances: the refresh deletes a deleted server's
-- rows itself, and requests join the servers table anyway (a deleted server drops out).


-- -----------------------------------------------------------------------------
-- Section: Row Level Security and grants
-- -----------------------------------------------------------------------------

-- RLS on and no policy: nobody but the owner (the refresh and request functions)
-- and service_role (bypasses RLS) reads a row. No privileges for anon or authenticated.
alter table public.agent_mcp_recommendation_settings enable row level security;
alter table public.agent_mcp_recommendation_servers enable row level security;
alter table public.agent_mcp_recommendation_pairs enable row level security;

revoke all on table public.agent_mcp_recommendation_settings from public, anon, authenticated, service_role;
revoke all on table public.agent_mcp_recommendation_servers from public, anon, authenticated, service_role;
revoke all on table public.agent_mcp_recommendation_pairs from public, anon, authenticated, service_role;
-- service_role: reads everything, changes the settings; the aggregates are written
-- only by the refresh (which runs as the owner).
grant select, update on table public.agent_mcp_recommendation_settings to service_role;
grant select on table public.agent_mcp_recommendation_servers to service_role;
grant select on table public.agent_mcp_recommendation_pairs to service_role;


-- -----------------------------------------------------------------------------
-- Section: coarsening
-- -----------------------------------------------------------------------------

-- A user count as a response may show it: floored to two significant digits, in
-- steps of at least 5 (7 -> 5, 37 -> 35, 372 -> 370, 3721 -> 3700).
create or replace function public.agent_mcp_recommendation_round_count(n integer)
returns integer
language sql
immutable
parallel safe
set search_path = ''
as $$
    -- The step: 5 below 100, then one unit of the second significant digit.
    select case
        when n is null or n <= 0 then 0
        else (n / step.s) * step.s
    end
    from (select case when n < 100 then 5 when n < 1000 then 10 when n < 10000 then 100
                      when n < 100000 then 1000 when n < 1000000 then 10000 else 100000 end as s) as step;
$$;

comment on function public.agent_mcp_recommendation_round_count(integer) is
    'A user count as responses show it: floored to two significant digits, in steps of at least 5.';

-- The refresh applies the same rule inline (a function with SET search_path is
-- never inlined, and calling it per pair costs seconds at 1M connections); a
-- pgTAP test checks that every stored users_shown equals this function's answer.
-- Integer arithmetic only: numeric log() and ^ cost ~50 µs a row.

revoke execute on function public.agent_mcp_recommendation_round_count(integer) from public, anon, authenticated;
grant execute on function public.agent_mcp_recommendation_round_count(integer) to service_role;


-- -----------------------------------------------------------------------------
-- Section: the refresh's own state (agent_mcp_private, never exposed)
-- -----------------------------------------------------------------------------

-- What the last refresh saw, so that the next one redoes only what changed. Written
-- by refresh_agent_mcp_recommendations() only (it runs as the owner); no role but
-- the owner holds a privilege on them, and RLS is on with no policy besides.

-- Servers as small stable integers: pair keys and server sets are integer arrays
-- (integers hash and compare much faster than uuids at millions of pairs). A
-- number is never reused; a deleted server's number stays, unreferenced.
create table if not exists agent_mcp_private.recommendation_server_numbers (
    n integer generated always as identity primary key,
    server_id uuid not null unique
);

comment on table agent_mcp_private.recommendation_server_numbers is
    'The recommendations refresh''s number for each MCP server (stable; pair totals and agent sets use it).';

-- Per agent with an active connection: its owner and its servers (numbers, in no order),
-- as the last refresh counted them. The next refresh compares the agents as they
-- are now with these rows; only the users of agents that differ are recounted.
create table if not exists agent_mcp_private.recommendation_agent_sets (
    agent_id uuid primary key,
    user_id uuid not null,
    servers integer[] not null
);

create index if not exists recommendation_agent_sets_user_id_idx
    on agent_mcp_private.recommendation_agent_sets (user_id);

comment on table agent_mcp_private.recommendation_agent_sets is
    'Per agent: owner and server numbers of its active connections, as the last recommendations refresh saw them.';

-- Per unordered server pair (low < high): distinct users and agents with one agent
-- using both, over ALL pairs (below k too: a pair must be counted before it reaches k).
-- Kept by adding each refresh's differences; public.agent_mcp_recommendation_pairs
-- is what requests read (k or more users, the strongest partners per server).
create table if not exists agent_mcp_private.recommendation_pair_totals (
    low integer not null,
    high integer not null,
    users integer not null,
    agents integer not null,
    primary key (low, high),
    -- No check on the counts: an upsert checks the row it proposes (the difference,
    -- often negative) before it finds the row it adds to.
    constraint recommendation_pair_totals_order check (low < high)
);

comment on table agent_mcp_private.recommendation_pair_totals is
    'Per server pair (numbers, low < high): distinct users and agents using both, every pair; '
    'kept incrementally by the recommendations refresh.';

-- The settings the published pairs were selected with: a change of k or of
-- partners_per_server makes the next refresh reselect every server's partners.
create table if not exists agent_mcp_private.recommendation_refresh_state (
    id boolean primary key default true,
    min_users integer not null,
    partners_per_server integer not null,
    constraint recommendation_refresh_state_one_row check (id)
);

comment on table agent_mcp_private.recommendation_refresh_state is
    'The k and partners_per_server the published recommendation pairs were selected with.';

alter table agent_mcp_private.recommendation_server_numbers enable row level security;
alter table agent_mcp_private.recommendation_agent_sets enable row level security;
alter table agent_mcp_private.recommendation_pair_totals enable row level security;
alter table agent_mcp_private.recommendation_refresh_state enable row level security;

revoke all on table agent_mcp_private.recommendation_server_numbers from public, anon, authenticated, service_role;
revoke all on table agent_mcp_private.recommendation_agent_sets from public, anon, authenticated, service_role;
revoke all on table agent_mcp_private.recommendation_pair_totals from public, anon, authenticated, service_role;
revoke all on table agent_mcp_private.recommendation_refresh_state from public, anon, authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: refresh_agent_mcp_recommendations()
-- -----------------------------------------------------------------------------

-- Brings the aggregates up to date with the active connections and writes what
-- changed. Returns how many servers and pairs are kept and how long it took.
--
-- Per server (users, agents, usage, health): recomputed in full, from one scan of
-- the active connections (usage and health change all the time; 2,000 servers at
-- 1M connections cost a few seconds).
-- Per pair (the expensive part, ~36 pairs per agent): incremental. The same scan
-- groups each agent's servers into an array and compares it with
-- recommendation_agent_sets; for every user with an agent that changed (a server
-- connected or disconnected, the agent created, deleted or given to another user),
-- it counts that user's pairs as they are now (+1) and as the last refresh saw them
-- (-1), one vote per user (distinct users per pair, on rows sorted by pair), and
-- adds the differences to recommendation_pair_totals. Only the servers whose
-- totals changed get their partners reselected. The first refresh (no state yet)
-- is the same code with every agent new; a change of k or partners_per_server
-- reselects every server's partners from the totals. To rebuild from nothing,
-- truncate the recommendation_* tables in agent_mcp_private.
-- Writes: only rows whose values changed (an unchanged database causes none).
--
-- Concurrency: refreshes queue on a transaction-level advisory lock, so two at
-- once never apply the same difference twice (the second counts from the first's
-- committed state). Each statement after the lock takes a fresh snapshot, which is
-- why it refuses to run at REPEATABLE READ or SERIALIZABLE (a snapshot taken before
-- the lock would count the first refresh's differences again). Readers are never
-- blocked and see the old aggregates until the refresh commits, then the new ones,
-- servers and pairs together.
--
-- SECURITY DEFINER: it must read every user's agents and connections (which
-- service_role may not be granted on a platform's own tables) and write tables
-- nobody else may write. Only service_role (the scheduler) may run it; it takes
-- no input, so a caller cannot steer what it reads. work_mem: at 1M connections
-- the first refresh sorts ~3.6M pair rows and every refresh hashes ~900k (server,
-- user) rows, in memory rather than spilled; JIT off: compiling the plan cost ~3 s
-- of the old refresh and saves nothing on these sorts and hashes.
create or replace function public.refresh_agent_mcp_recommendations()
returns table (refreshed_servers integer, refreshed_pairs integer, duration_ms integer)
language plpgsql
volatile
security definer
set search_path = ''
set work_mem = '256MB'
set jit = off
as $$
declare
    started timestamptz := clock_timestamp();
    k integer;
    partners integer;
    failing_after integer;
    state_k integer;
    state_partners integer;
    kept_servers integer;
    kept_pairs integer;
    -- Server numbers whose pair totals changed, and pairs whose totals reached zero.
    touched integer[];
    emptied_low integer[];
    emptied_high integer[];
begin
    if current_setting('transaction_isolation') <> 'read committed' then
        raise exception 'refresh_agent_mcp_recommendations() runs at READ COMMITTED only'
            using errcode = '25001',
                  hint = 'Its statements need snapshots taken after its lock; call it outside a '
                         'REPEATABLE READ or SERIALIZABLE transaction.';
    end if;
    perform pg_advisory_xact_lock(hashtextextended('public.refresh_agent_mcp_recommendations', 0));

    select s.min_users, s.partners_per_server, s.failure_threshold
    into k, partners, failing_after
    from public.agent_mcp_recommendation_settings as s
    where s.id;
    k := greatest(coalesce(k, 5), 5);
    partners := coalesce(partners, 100);
    failing_after := coalesce(failing_after, 3);

    -- New servers get the next numbers.
    insert into agent_mcp_private.recommendation_server_numbers (server_id)
    select t.id
    from public.account_tool_instances as t
    where not exists (
        select 1 from agent_mcp_private.recommendation_server_numbers as sn where sn.server_id = t.id
    )
    order by t.id;

    -- One statement, one scan of the active connections: the servers in full, the
    -- pairs' differences, and the new agent sets.
    with active as materialized (
        select c.agent_id,
               a.user_id,
               sn.n as server_n,
               case when jsonb_typeof(c.usage_stats -> 'totalRequests') = 'number'
                    then (c.usage_stats ->> 'totalRequests')::float8 else 0 end as requests,
               case when jsonb_typeof(c.usage_stats -> 'successfulRequests') = 'number'
                    then (c.usage_stats ->> 'successfulRequests')::float8 else 0 end as successes,
               -- Failing: in error, or failing_after failed checks in a row (read
               -- from agent_mcp_connection_health when there is a row; a connection
               -- never checked counts as not failing).
               case when c.connection_status = 'error'
                         or coalesce(h.consecutive_failures, 0) >= failing_after
                    then 1 else 0 end as failing
        from public.agent_mcp_connections as c
        join public.agents as a on a.id = c.agent_id
        join agent_mcp_private.recommendation_server_numbers as sn on sn.server_id = c.mcp_server_instance_id
        left join public.agent_mcp_connection_health as h on h.connection_id = c.id
        where c.is_active
    ),

    -- Servers ---------------------------------------------------------------
    -- One row per (server, user) first: every aggregate counts each user once.
    server_users as (
        select x.server_n, x.user_id,
               count(*)::integer as agents,
               sum(x.requests) as requests,
               sum(x.successes) as successes,
               avg(x.failing) >= 0.5 as failing
        from active as x
        group by x.server_n, x.user_id
    ),
    server_fresh as (
        select sn.server_id as mcp_server_instance_id,
               count(*)::integer as users,
               sum(u.agents)::integer as agents,
               (count(*) filter (where u.requests > 0))::integer as usage_users,
               -- Rounded to 6 decimals so that float noise (0.8999999...) does not
               -- floor a rate of 90 % to 89.9 %.
               round((case when count(*) filter (where u.requests > 0) >= k
                           then avg(least(u.successes / u.requests, 1)) filter (where u.requests > 0)
                      end)::numeric, 6) as success_rate,
               (count(*) filter (where u.failing))::integer as failing_users
        from server_users as u
        join agent_mcp_private.recommendation_server_numbers as sn on sn.n = u.server_n
        group by sn.server_id
        having count(*) >= k
    ),
    server_shown as (
        -- Coarsened: users floored to two significant digits in steps of at least 5
        -- (agent_mcp_recommendation_round_count), success to 0.1 %, failing share to 10 %.
        select f.*,
               (f.users / st.step) * st.step as users_shown,
               floor(f.success_rate * 1000) / 1000 as success_shown,
               floor(f.failing_users::numeric / f.users * 10) / 10 as failing_shown
        from server_fresh as f
        cross join lateral (
            select case when f.users < 100 then 5 when f.users < 1000 then 10 when f.users < 10000 then 100
                        when f.users < 100000 then 1000 when f.users < 1000000 then 10000 else 100000 end as step
        ) as st
    ),
    server_removed as (
        delete from public.agent_mcp_recommendation_servers as t
        where not exists (
            select 1 from server_shown as f where f.mcp_server_instance_id = t.mcp_server_instance_id
        )
    ),
    server_written as (
        insert into public.agent_mcp_recommendation_servers as t (
            mcp_server_instance_id, users, agents, usage_users, success_rate, failing_users,
            users_shown, success_shown, failing_shown, refreshed_at
        )
        select f.mcp_server_instance_id, f.users, f.agents, f.usage_users, f.success_rate,
               f.failing_users, f.users_shown, f.success_shown, f.failing_shown, now()
        from server_shown as f
        on conflict (mcp_server_instance_id) do update set
            users = excluded.users,
            agents = excluded.agents,
            usage_users = excluded.usage_users,
            success_rate = excluded.success_rate,
            failing_users = excluded.failing_users,
            users_shown = excluded.users_shown,
            success_shown = excluded.success_shown,
            failing_shown = excluded.failing_shown,
            refreshed_at = excluded.refreshed_at
        where (t.users, t.agents, t.usage_users, t.success_rate, t.failing_users)
              is distinct from
              (excluded.users, excluded.agents, excluded.usage_users, excluded.success_rate,
               excluded.failing_users)
    ),

    -- Pairs: what changed since the last refresh --------------------------------
    agent_now as (
        select x.agent_id, x.user_id, array_agg(x.server_n) as servers
        from active as x
        group by x.agent_id, x.user_id
    ),
    changed as (
        select coalesce(n.agent_id, o.agent_id) as agent_id,
               n.user_id as new_user, o.user_id as old_user, n.servers as new_servers
        from agent_now as n
        full join agent_mcp_private.recommendation_agent_sets as o on o.agent_id = n.agent_id
        where n.agent_id is null or o.agent_id is null
           or n.user_id <> o.user_id
           -- The same set in any order (an agent connects a server once at a time).
           or cardinality(n.servers) <> cardinality(o.servers)
           or not n.servers <@ o.servers
    ),
    dirty_users as (
        select c.new_user as user_id from changed as c where c.new_user is not null
        union
        select c.old_user from changed as c where c.old_user is not null
    ),
    -- Every agent of a user with a change: as it is now (+1), as last counted (-1).
    recounted as (
        select n.user_id, n.servers, 1 as side
        from agent_now as n
        where n.user_id in (select d.user_id from dirty_users as d)
        union all
        select o.user_id, o.servers, -1
        from agent_mcp_private.recommendation_agent_sets as o
        where o.user_id in (select d.user_id from dirty_users as d)
    ),
    -- Per unordered pair (i < j, named low < high): the users and agents counted now minus those counted last time. Sorted
    -- by pair, with distinct users per group: cheaper than hashing ~3.6M (pair, user)
    -- rows first at 1M connections.
    pair_delta as (
        select least(g.servers[i], g.servers[j]) as low, greatest(g.servers[i], g.servers[j]) as high,
               (count(distinct g.user_id) filter (where g.side > 0)
                - count(distinct g.user_id) filter (where g.side < 0))::integer as users,
               sum(g.side)::integer as agents
        from recounted as g
        cross join lateral generate_series(1, cardinality(g.servers) - 1) as i
        cross join lateral generate_series(i + 1, cardinality(g.servers)) as j
        group by 1, 2
        having count(distinct g.user_id) filter (where g.side > 0)
                   <> count(distinct g.user_id) filter (where g.side < 0)
            or sum(g.side) <> 0
    ),
    totals_written as (
        insert into agent_mcp_private.recommendation_pair_totals as t (low, high, users, agents)
        select d.low, d.high, d.users, d.agents
        from pair_delta as d
        on conflict (low, high) do update set
            users = t.users + excluded.users,
            agents = t.agents + excluded.agents
        returning t.low, t.high, t.agents
    ),
    sets_removed as (
        delete from agent_mcp_private.recommendation_agent_sets as o
        using changed as c
        where c.agent_id = o.agent_id and c.new_user is null
    ),
    sets_written as (
        insert into agent_mcp_private.recommendation_agent_sets as o (agent_id, user_id, servers)
        select c.agent_id, c.new_user, c.new_servers
        from changed as c
        where c.new_user is not null
        on conflict (agent_id) do update set
            user_id = excluded.user_id,
            servers = excluded.servers
    )
    -- Data-modifying CTEs run to completion whether or not they are read.
    select (select count(*) from server_shown)::integer,
           (select array_agg(v.n)
            from (select w.low as n from totals_written as w
                  union
                  select w.high from totals_written as w) as v),
           (select array_agg(w.low) from totals_written as w where w.agents = 0),
           (select array_agg(w.high) from totals_written as w where w.agents = 0)
    into kept_servers, touched, emptied_low, emptied_high;

    -- Pairs nobody uses any more.
    delete from agent_mcp_private.recommendation_pair_totals as t
    using unnest(emptied_low, emptied_high) as e (low, high)
    where t.low = e.low and t.high = e.high;

    -- A change of k or partners_per_server: every server's partners are reselected.
    select s.min_users, s.partners_per_server into state_k, state_partners
    from agent_mcp_private.recommendation_refresh_state as s
    where s.id;
    if state_k is distinct from k or state_partners is distinct from partners then
        select array_agg(sn.n) into touched from agent_mcp_private.recommendation_server_numbers as sn;
        -- Rows of a server that was gone before it was ever numbered (pairs written by
        -- an older version of this function) have no number to be reselected by.
        delete from public.agent_mcp_recommendation_pairs as p
        where not exists (
            select 1 from agent_mcp_private.recommendation_server_numbers as sn
            where sn.server_id = p.mcp_server_instance_id
        );
    end if;

    -- Partners reselected for the touched servers only: pairs of k or more users,
    -- per server its partners_per_server strongest.
    if cardinality(touched) > 0 then
        with scope as (
            -- A set, joined (a long array in = any () is searched linearly per row).
            select distinct u.n from unnest(touched) as u (n)
        ),
        candidates as (
            select t.low as server_n, t.high as partner_n, t.users, t.agents
            from agent_mcp_private.recommendation_pair_totals as t
            join scope as s on s.n = t.low
            where t.users >= k
            union all
            select t.high, t.low, t.users, t.agents
            from agent_mcp_private.recommendation_pair_totals as t
            join scope as s on s.n = t.high
            where t.users >= k
        ),
        ranked as (
            select c.server_n, c.partner_n, c.users, c.agents,
                   row_number() over (
                       partition by c.server_n
                       order by c.users desc, c.agents desc, c.partner_n
                   ) as rank
            from candidates as c
        ),
        pair_fresh as (
            select s1.server_id, s2.server_id as partner_id, r.users, r.agents,
                   (r.users / st.step) * st.step as users_shown
            from ranked as r
            join agent_mcp_private.recommendation_server_numbers as s1 on s1.n = r.server_n
            join agent_mcp_private.recommendation_server_numbers as s2 on s2.n = r.partner_n
            cross join lateral (
                select case when r.users < 100 then 5 when r.users < 1000 then 10 when r.users < 10000 then 100
                            when r.users < 100000 then 1000 when r.users < 1000000 then 10000 else 100000 end as step
            ) as st
            where r.rank <= partners
        ),
        pair_removed as (
            delete from public.agent_mcp_recommendation_pairs as p
            using agent_mcp_private.recommendation_server_numbers as sn, scope as s
            where sn.server_id = p.mcp_server_instance_id
              and sn.n = s.n
              and not exists (
                  select 1 from pair_fresh as f
                  where f.server_id = p.mcp_server_instance_id and f.partner_id = p.partner_id
              )
        )
        insert into public.agent_mcp_recommendation_pairs as t
            (mcp_server_instance_id, partner_id, users, agents, users_shown)
        select f.server_id, f.partner_id, f.users, f.agents, f.users_shown
        from pair_fresh as f
        on conflict (mcp_server_instance_id, partner_id) do update set
            users = excluded.users,
            agents = excluded.agents,
            users_shown = excluded.users_shown
        where (t.users, t.agents) is distinct from (excluded.users, excluded.agents);
    end if;

    insert into agent_mcp_private.recommendation_refresh_state as s (id, min_users, partners_per_server)
    values (true, k, partners)
    on conflict (id) do update set
        min_users = excluded.min_users,
        partners_per_server = excluded.partners_per_server
    where (s.min_users, s.partners_per_server)
          is distinct from (excluded.min_users, excluded.partners_per_server);

    select count(*)::integer into kept_pairs from public.agent_mcp_recommendation_pairs;

    return query select kept_servers, kept_pairs,
        (extract(epoch from clock_timestamp() - started) * 1000)::integer;
end;
$$;

comment on function public.refresh_agent_mcp_recommendations() is
    'Brings the recommendation aggregates (k-anonymous server and pair counts) up to date, pairs incrementally; '
    'run on a schedule by service_role.';

revoke execute on function public.refresh_agent_mcp_recommendations() from public, anon, authenticated;
grant execute on function public.refresh_agent_mcp_recommendations() to service_role;


-- -----------------------------------------------------------------------------
-- Section: agent_mcp_recommendations()
-- -----------------------------------------------------------------------------

-- Up to p_limit (1 .. 50) servers to connect the agent to next, best first, with
-- a score and a short reason (see the header for how scores are made).
-- Errors: 22023 bad limit; PT404 agent_not_found (agent_mcp_private.raise_error()):
-- the agent does not exist or is not the caller's
-- (one answer for both, so no caller learns whether another user's agent exists).
-- SECURITY DEFINER: it reads the precomputed aggregates, which users may not read
-- directly. It checks the caller itself, first: the agent must belong to
-- auth.uid(); it reads the caller's own connections of that agent, and other
-- users' data only as k-anonymous, coarsened aggregates. Flagged by the linter as
-- authenticated_security_definer_function_executable: intended.
create or replace function public.agent_mcp_recommendations(p_agent_id uuid, p_limit integer default 5)
returns table (mcp_server_instance_id uuid, name text, score numeric, reason text)
language plpgsql
stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    k integer;
    unhealthy numeric;
begin
    if p_limit is null or p_limit not between 1 and 50 then
        raise exception 'limit must be 1 to 50' using errcode = '22023';
    end if;
    if p_agent_id is null or not exists (
        select 1 from public.agents as a
        where a.id = p_agent_id and a.user_id = (select auth.uid())
    ) then
        perform agent_mcp_private.raise_error(404, 'agent_not_found',
            format('Agent %s was not found.', p_agent_id));
    end if;

    select s.min_users, s.unhealthy_share into k, unhealthy
    from public.agent_mcp_recommendation_settings as s
    where s.id;
    k := greatest(coalesce(k, 5), 5);
    unhealthy := coalesce(unhealthy, 0.5);

    return query
    with mine as (
        -- The caller's own data: the agent's current servers.
        select distinct c.mcp_server_instance_id as server_id
        from public.agent_mcp_connections as c
        where c.agent_id = p_agent_id and c.is_active
    ),
    released as (
        -- Per-server aggregates of k or more users, coarsened.
        select s.mcp_server_instance_id as server_id,
               s.users_shown as users,
               case when s.usage_users >= k then s.success_shown end as success,
               s.failing_shown as failing
        from public.agent_mcp_recommendation_servers as s
        where s.users >= k
    ),
    neighbours as (
        -- Co-use with the agent's servers: pairs of k or more users, coarsened; the
        -- strongest one per candidate (rank 1) names the reason.
        select p.partner_id as candidate_id,
               p.mcp_server_instance_id as via_id,
               p.users_shown as users,
               p.users_shown / sqrt(rv.users::float8 * rc.users::float8) as similarity,
               row_number() over (
                   partition by p.partner_id
                   order by p.users_shown / sqrt(rv.users::float8 * rc.users::float8) desc,
                            p.users_shown desc, p.mcp_server_instance_id
               ) as rank
        from mine as m
        join public.agent_mcp_recommendation_pairs as p on p.mcp_server_instance_id = m.server_id
        join released as rv on rv.server_id = p.mcp_server_instance_id
        join released as rc on rc.server_id = p.partner_id
        where p.users >= k
    ),
    affinity as (
        select n.candidate_id,
               sum(n.similarity) as affinity,
               max(n.via_id::text) filter (where n.rank = 1)::uuid as via_id,
               max(n.users) filter (where n.rank = 1) as via_users
        from neighbours as n
        group by n.candidate_id
    ),
    scored as (
        select r.server_id,
               t.instance_name_on_toolbox as server_name,
               r.users, r.success, r.failing,
               coalesce(f.affinity, 0) as affinity,
               f.via_id, f.via_users,
               -- In float8 (numeric ln() is slow); rounded to 4 decimals at the end.
               (coalesce(f.affinity, 0)
                   + 0.05 * ln(1 + r.users::float8) / ln(1 + greatest(max(r.users) over (), 1)::float8))
               * coalesce(r.success, 1)::float8 * (1 - r.failing)::float8 as score
        from released as r
        join public.account_tool_instances as t on t.id = r.server_id
        left join affinity as f on f.candidate_id = r.server_id
        where t.status_on_toolbox = 'running'
          and r.failing < unhealthy
          and not exists (select 1 from mine as m where m.server_id = r.server_id)
    ),
    best as (
        select sc.*
        from scored as sc
        order by sc.score desc, sc.users desc, sc.server_name, sc.server_id
        limit p_limit
    )
    -- Reasons are written for the chosen few only.
    select s.server_id,
           s.server_name,
           round(s.score::numeric, 4),
           concat_ws(', ',
               case when s.via_id is not null
                    then format('used with %s by %s+ users', v.instance_name_on_toolbox, s.via_users)
                    else format('used by %s+ users', s.users)
               end,
               case when s.success is not null
                    then to_char(s.success * 100, 'FM990.0') || '% success'
               end,
               case when s.failing = 0 then 'healthy'
                    else format('%s%% of users see failing checks', (s.failing * 100)::integer)
               end
           )
    from best as s
    left join public.account_tool_instances as v on v.id = s.via_id
    order by s.score desc, s.users desc, s.server_name, s.server_id;
end;
$$;

comment on function public.agent_mcp_recommendations(uuid, integer) is
    'Servers to connect the caller''s agent to next, from k-anonymous aggregates: {id, name, score, reason}.';

revoke execute on function public.agent_mcp_recommendations(uuid, integer) from public, anon;
grant execute on function public.agent_mcp_recommendations(uuid, integer) to authenticated, service_role;
