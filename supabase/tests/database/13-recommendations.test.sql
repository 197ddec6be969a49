-- Recommendations: who may ask, what is excluded, the k-threshold, and that one
-- other user's change leaves the caller's answer as it was.
begin;
select plan(35);
\ir _helpers.psql

-- =============================================================================
-- Fixture: a crowd of users, each with one agent (fixed ids: user n is
-- f0000000-...-<n>, their agent f1000000-...-<n>), and the servers they use.
--
--   Alpha    running   crowd 1..13 (and the owner's agent)
--   Beta     running   crowd 1..12, each with usage (99.2 % success): recommended
--   Gamma    running   crowd 1..4 with Alpha: k - 1 users, not yet recommended
--   Delta    running   crowd 1..6 and the owner's agent: already connected
--   Stopped  stopped   crowd 1..6
--   Broken   running   crowd 1..6, every connection in error
--   Flaky    running   crowd 1..6, connected but 3 failed checks in a row
-- =============================================================================
create function tests.crowd_user(n integer) returns uuid
language sql immutable set search_path = '' as $$
    select ('f0000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid
$$;
create function tests.crowd_agent(n integer) returns uuid
language sql immutable set search_path = '' as $$
    select ('f1000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid
$$;
create function tests.server(label text) returns uuid
language sql immutable set search_path = '' as $$
    select ('e0000000-0000-4000-8000-' || lpad(case label
        when 'Alpha' then '1' when 'Beta' then '2' when 'Gamma' then '3' when 'Delta' then '4'
        when 'Stopped' then '5' when 'Broken' then '6' when 'Flaky' then '7' end, 12, '0'))::uuid
$$;
-- Connects crowd users from .. to to a server (as the platform would, superuser).
create function tests.connect_crowd(server_label text, first_n integer, last_n integer,
                                    status text default 'connected', usage jsonb default '{}')
returns void
language sql set search_path = '' as $$
    insert into public.agent_mcp_connections
        (agent_id, mcp_server_instance_id, created_by, connection_status, usage_stats)
    select tests.crowd_agent(n), tests.server(server_label), tests.crowd_user(n), status, usage
    from generate_series(first_n, last_n) as n
$$;
create function tests.refresh() returns void
language sql set search_path = '' as $$
    select public.refresh_agent_mcp_recommendations();
$$;
grant execute on all functions in schema tests to anon, authenticated, service_role;

insert into auth.users (id, email, aud, role)
select tests.crowd_user(n), 'crowd-' || n || '@tests.local', 'authenticated', 'authenticated'
from generate_series(1, 13) as n;
insert into public.agents (id, user_id, name)
select tests.crowd_agent(n), tests.crowd_user(n), 'Crowd agent ' || n
from generate_series(1, 13) as n;

insert into public.account_tool_instances (id, instance_name_on_toolbox, status_on_toolbox, mcp_server_url)
select tests.server(label), label, 'running', 'https://' || lower(label) || '.example.com/mcp'
from unnest(array['Alpha', 'Beta', 'Gamma', 'Delta', 'Stopped', 'Broken', 'Flaky']) as label;

select tests.connect_crowd('Alpha', 1, 13);
select tests.connect_crowd('Beta', 1, 12, 'connected',
    '{"totalRequests": 1000, "successfulRequests": 992, "failedRequests": 8}');
select tests.connect_crowd('Gamma', 1, 4);
select tests.connect_crowd('Delta', 1, 6);
select tests.connect_crowd('Stopped', 1, 6);
select tests.connect_crowd('Broken', 1, 6, 'error');
select tests.connect_crowd('Flaky', 1, 6);
-- Stopped after the crowd connected (a stopped server takes no new connection).
update public.account_tool_instances set status_on_toolbox = 'stopped'
where id = tests.server('Stopped');
insert into public.agent_mcp_connection_health (connection_id, consecutive_failures, last_checked_at)
select c.id, 3, now()
from public.agent_mcp_connections as c
where c.mcp_server_instance_id = tests.server('Flaky');

-- The owner's agent already uses server one (from the helpers), Alpha and Delta.
insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
values ('a1000000-0000-4000-8000-000000000001', tests.server('Alpha'), 'a0000000-0000-4000-8000-000000000001'),
       ('a1000000-0000-4000-8000-000000000001', tests.server('Delta'), 'a0000000-0000-4000-8000-000000000001');

select tests.authenticate_as_service_role();
select tests.refresh();
select tests.clear_authentication();

-- =============================================================================
-- Who may read what
-- =============================================================================
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select throws_ok($$ select * from agent_mcp_recommendation_pairs $$, '42501',
    'permission denied for table agent_mcp_recommendation_pairs',
    'signed-in users cannot read the pair aggregates directly');
select throws_ok($$ select * from agent_mcp_recommendation_servers $$, '42501',
    'permission denied for table agent_mcp_recommendation_servers',
    'signed-in users cannot read the server aggregates directly');
select throws_ok($$ select * from agent_mcp_recommendation_settings $$, '42501',
    'permission denied for table agent_mcp_recommendation_settings',
    'signed-in users cannot read the settings');
select throws_ok($$ select * from refresh_agent_mcp_recommendations() $$, '42501',
    'permission denied for function refresh_agent_mcp_recommendations',
    'signed-in users cannot run the refresh');
select throws_ok($$ select * from agent_mcp_private.recommendation_pair_totals $$, '42501',
    'permission denied for table recommendation_pair_totals',
    'signed-in users cannot read the refresh''s pair totals (below k too)');

select throws_ok($$ select * from agent_mcp_recommendations('b1000000-0000-4000-8000-000000000002') $$,
    'PT404', 'Agent b1000000-0000-4000-8000-000000000002 was not found.',
    'the owner asking for another user''s agent gets not found');
select throws_ok($$ select * from agent_mcp_recommendations('a1000000-0000-4000-8000-0000000000ff') $$,
    'PT404', 'Agent a1000000-0000-4000-8000-0000000000ff was not found.',
    'a missing agent gets the same answer');
select throws_ok($$ select * from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 0) $$,
    '22023', 'limit must be 1 to 50', 'a limit below 1 is refused');
select throws_ok($$ select * from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 51) $$,
    '22023', 'limit must be 1 to 50', 'a limit above 50 is refused');

select tests.authenticate_as_service_role();
select throws_ok($$ select * from agent_mcp_private.recommendation_agent_sets $$, '42501',
    'permission denied for table recommendation_agent_sets',
    'service_role cannot read the refresh''s per-agent state either');
select tests.clear_authentication();

select tests.authenticate_as_anon();
select throws_ok($$ select * from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001') $$,
    '42501', 'permission denied for function agent_mcp_recommendations', 'anon cannot ask');
select tests.clear_authentication();

select results_eq($$
    select array_agg(agent_mcp_recommendation_round_count(n) order by n)
    from unnest(array[4, 5, 9, 10, 14, 37, 99, 100, 372, 3721]) as n
$$, $$ values (array[0, 5, 5, 10, 10, 35, 95, 100, 370, 3700]) $$,
'counts are shown floored to two significant digits, in steps of at least 5');

-- =============================================================================
-- The owner: what is recommended, and what is left out
-- =============================================================================
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');

select results_eq($$
    select name, score, reason from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001')
$$, $$ values ('Beta'::text, 1.7430::numeric, 'used with Alpha by 10+ users, 99.2% success, healthy'::text) $$,
'Beta is recommended, with its co-use, success rate and health; counts are coarsened (12 users show as 10+)');
-- The score, from the coarsened counts: Beta with Alpha 10 of 10 and 10 users, with
-- Delta 5 of 5 and 10 users, plus the popularity tie-breaker, times the success rate:
-- (10/sqrt(10*10) + 5/sqrt(5*10) + 0.05) * 0.992 = 1.7430.

select ok(not exists (
    select 1 from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 50)
    where name = 'Delta'
), 'a server the agent already uses is not recommended');
select ok(not exists (
    select 1 from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 50)
    where name = 'Stopped'
), 'a server that is not running is not recommended');
select ok(not exists (
    select 1 from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 50)
    where name = 'Broken'
), 'a server whose connections are in error is not recommended');
select ok(not exists (
    select 1 from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 50)
    where name = 'Flaky'
), 'a server whose connections fail their checks (agent_mcp_connection_health) is not recommended');
select ok(not exists (
    select 1 from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 50)
    where name = 'Gamma'
), 'a server co-used by k - 1 = 4 users is not recommended');

-- The other user's agent, seen by its owner: Alpha and Beta by popularity alone
-- (the agent uses only server one, which has fewer than k users).
select tests.authenticate_as('b0000000-0000-4000-8000-000000000002');
select results_eq($$
    select name, reason from agent_mcp_recommendations('b1000000-0000-4000-8000-000000000002')
$$, $$ values ('Alpha'::text, 'used by 10+ users, healthy'::text),
              ('Beta', 'used by 10+ users, 99.2% success, healthy'),
              ('Delta', 'used by 5+ users, healthy') $$,
'an agent without k-anonymous neighbours gets the popular running, healthy servers');
select tests.clear_authentication();

-- =============================================================================
-- One other user's difference leaves the answer identical
-- =============================================================================
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
create temporary table baseline as
select * from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 50);
select tests.clear_authentication();

-- Crowd user 13 (Alpha only so far) connects Beta too: Beta and the pair gain one user.
select tests.connect_crowd('Beta', 13, 13);
select tests.authenticate_as_service_role();
select tests.refresh();
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select results_eq(
    $$ select * from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 50) $$,
    $$ select * from baseline $$,
    'one other user connecting a server leaves the answer identical');
select tests.clear_authentication();

-- Back as it was, then crowd user 1 disconnects Beta: one user fewer.
delete from agent_mcp_connections
where agent_id = tests.crowd_agent(13) and mcp_server_instance_id = tests.server('Beta');
update agent_mcp_connections set is_active = false, connection_status = 'disconnected'
where agent_id = tests.crowd_agent(1) and mcp_server_instance_id = tests.server('Beta');
select tests.authenticate_as_service_role();
select tests.refresh();
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select results_eq(
    $$ select * from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 50) $$,
    $$ select * from baseline $$,
    'one other user disconnecting a server leaves the answer identical');
select tests.clear_authentication();

-- Back as it was, then a user outside the crowd connects Beta and Delta.
delete from agent_mcp_connections
where agent_id = tests.crowd_agent(1) and mcp_server_instance_id = tests.server('Beta');
select tests.connect_crowd('Beta', 1, 1, 'connected',
    '{"totalRequests": 1000, "successfulRequests": 992, "failedRequests": 8}');
insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
values ('b1000000-0000-4000-8000-000000000002', tests.server('Beta'), 'b0000000-0000-4000-8000-000000000002'),
       ('b1000000-0000-4000-8000-000000000002', tests.server('Delta'), 'b0000000-0000-4000-8000-000000000002');
select tests.authenticate_as_service_role();
select tests.refresh();
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select results_eq(
    $$ select * from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 50) $$,
    $$ select * from baseline $$,
    'another user connecting two servers leaves the answer identical');
select tests.clear_authentication();

-- =============================================================================
-- The k-threshold: k - 1 users are invisible, k users appear
-- =============================================================================
select tests.authenticate_as_service_role();
select results_eq($$ select count(*)::int from agent_mcp_recommendation_pairs
                    where mcp_server_instance_id = tests.server('Gamma') $$,
    $$ values (0) $$, 'the refresh stores no pair of k - 1 users');
select tests.clear_authentication();

select tests.connect_crowd('Gamma', 5, 5);
select tests.authenticate_as_service_role();
select tests.refresh();
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select results_eq($$
    select reason from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 50)
    where name = 'Gamma'
$$, $$ values ('used with Delta by 5+ users, healthy'::text) $$,
'with the k-th user, the pairs and the server appear');
select tests.clear_authentication();

-- k lives in one row; raising it takes effect at once (requests re-check it).
update agent_mcp_recommendation_settings set min_users = 11;
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select results_eq($$
    select name from agent_mcp_recommendations('a1000000-0000-4000-8000-000000000001', 50)
$$, $$ values ('Beta'::text) $$, 'with k = 11, the aggregates of fewer users disappear at once');
select tests.clear_authentication();

select throws_ok($$ update agent_mcp_recommendation_settings set min_users = 4 $$, '23514', null,
    'k cannot be set below 5');

-- =============================================================================
-- The refresh writes only what changed
-- =============================================================================
update agent_mcp_recommendation_settings set min_users = 5;
select tests.authenticate_as_service_role();
select tests.refresh();
create temporary table before_refresh as
select mcp_server_instance_id, partner_id, ctid::text as version from agent_mcp_recommendation_pairs;
grant select on before_refresh to service_role;
select tests.refresh();
select is_empty($$
    select 1 from agent_mcp_recommendation_pairs as p
    join before_refresh as b using (mcp_server_instance_id, partner_id)
    where p.ctid::text <> b.version
$$, 'a refresh over unchanged data rewrites no pair');
select results_eq($$ select count(*)::int from agent_mcp_recommendation_pairs $$,
    $$ select count(*)::int from before_refresh $$, 'and keeps every pair');
select is_empty($$
    select 1 from agent_mcp_recommendation_pairs
    where users_shown <> agent_mcp_recommendation_round_count(users)
    union all
    select 1 from agent_mcp_recommendation_servers
    where users_shown <> agent_mcp_recommendation_round_count(users)
$$, 'the refresh coarsens counts exactly as agent_mcp_recommendation_round_count() does');

-- =============================================================================
-- Incremental: what the refresh keeps equals a count from nothing
-- =============================================================================
-- More kinds of change since the last refresh: an agent given to another user who
-- already uses the same pair (Alpha with Beta: one user fewer, the same agents), a
-- deleted agent, a new agent with two servers, and k raised and lowered again.
select tests.clear_authentication();
insert into public.agents (id, user_id, name)
values ('f2000000-0000-4000-8000-000000000001', tests.crowd_user(2), 'Second agent of crowd user 2');
insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
values ('f2000000-0000-4000-8000-000000000001', tests.server('Alpha'), tests.crowd_user(2)),
       ('f2000000-0000-4000-8000-000000000001', tests.server('Gamma'), tests.crowd_user(2));
update public.agents set user_id = tests.crowd_user(2) where id = tests.crowd_agent(3);
delete from public.agents where id = tests.crowd_agent(4);
select tests.authenticate_as_service_role();
select tests.refresh();
select tests.clear_authentication();

select results_eq($$
    select users, agents from agent_mcp_recommendation_pairs
    where mcp_server_instance_id = tests.server('Alpha') and partner_id = tests.server('Beta')
$$, $$
    select count(distinct a.user_id)::integer, count(*)::integer
    from agent_mcp_connections as c1
    join agent_mcp_connections as c2 on c2.agent_id = c1.agent_id and c2.is_active
    join agents as a on a.id = c1.agent_id
    where c1.is_active and c1.mcp_server_instance_id = tests.server('Alpha')
      and c2.mcp_server_instance_id = tests.server('Beta')
$$, 'after agents move, go and come, a pair counts each user once and every agent');

create temporary table kept_pairs as
select mcp_server_instance_id, partner_id, users, agents, users_shown from agent_mcp_recommendation_pairs;
create temporary table kept_totals as
select low, high, users, agents from agent_mcp_private.recommendation_pair_totals;
create temporary table kept_servers as
select mcp_server_instance_id, users, agents, usage_users, success_rate, failing_users from agent_mcp_recommendation_servers;
truncate agent_mcp_private.recommendation_agent_sets, agent_mcp_private.recommendation_pair_totals,
         agent_mcp_private.recommendation_refresh_state, agent_mcp_recommendation_pairs,
         agent_mcp_recommendation_servers;
select tests.refresh();
select set_eq($$ select * from kept_totals $$,
    $$ select low, high, users, agents from agent_mcp_private.recommendation_pair_totals $$,
    'the pair totals kept by differences equal those counted from nothing');
select set_eq($$ select * from kept_pairs $$,
    $$ select mcp_server_instance_id, partner_id, users, agents, users_shown from agent_mcp_recommendation_pairs $$,
    'and so do the pairs requests read');
select set_eq($$ select * from kept_servers $$,
    $$ select mcp_server_instance_id, users, agents, usage_users, success_rate, failing_users
       from agent_mcp_recommendation_servers $$,
    'and the per-server aggregates');

-- A change of k reselects every server's partners at the next refresh, from the totals.
update agent_mcp_recommendation_settings set min_users = 11;
select tests.refresh();
select is_empty($$ select 1 from agent_mcp_recommendation_pairs where users < 11 $$,
    'after k is raised, the next refresh stores no pair below it');
update agent_mcp_recommendation_settings set min_users = 5;
select tests.refresh();
select set_eq($$ select * from kept_pairs $$,
    $$ select mcp_server_instance_id, partner_id, users, agents, users_shown from agent_mcp_recommendation_pairs $$,
    'and after it is lowered again, the pairs of 5 to 10 users come back as they were');

select * from finish();
rollback;
