-- Health checks: per-owner targets (no history across users), cycles cut in batches,
-- claims and leases, the set-based write per batch, the threshold, fairness,
-- retention, and who reads what.
begin;
select plan(57);
\ir _helpers.psql

-- Two more connections of server one with the owner's config ({"timeout": 30000}):
-- the owner's two share one probe target, the other user's equal config does not.
insert into public.agents (id, user_id, name) values
    ('a1000000-0000-4000-8000-0000000000a2', 'a0000000-0000-4000-8000-000000000001', 'Owner agent 2');
insert into public.agent_mcp_connections (id, agent_id, mcp_server_instance_id, created_by, connection_config)
values ('a2000000-0000-4000-8000-0000000000a2', 'a1000000-0000-4000-8000-0000000000a2',
        'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001', '{"timeout": 30000}');
update public.agent_mcp_connections set connection_config = '{"timeout": 30000}'
where id = 'b2000000-0000-4000-8000-000000000002';
update public.agent_mcp_connections set connection_status = 'connected'
where id in ('a2000000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000002');
-- The owner also uses server two, which was stopped after they connected (a
-- stopped server takes no new connection).
update public.account_tool_instances set status_on_toolbox = 'running'
where id = 'd0000000-0000-4000-8000-000000000002';
insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, created_by, connection_config)
values ('a1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002',
        'a0000000-0000-4000-8000-000000000001', '{}');
update public.account_tool_instances set status_on_toolbox = 'stopped'
where id = 'd0000000-0000-4000-8000-000000000002';

-- Claims taken in this file, by name; results for every target of a claimed batch.
create temporary table claims (name text primary key, body jsonb);
grant all on claims to service_role;
create function pg_temp.results_for(p_claim text, p_result jsonb) returns jsonb
language sql as $$
    select coalesce(jsonb_agg(jsonb_build_object(
        'serverId', t ->> 'serverId', 'targetKey', t ->> 'targetKey', 'result', p_result)), '[]')
    from claims as c, jsonb_array_elements(c.body #> '{batch,targets}') as t
    where c.name = p_claim
$$;
create function pg_temp.record(p_claim text, p_result jsonb) returns jsonb
language sql as $$
    select public.record_mcp_health_check_batch(
        (c.body #>> '{batch,id}')::bigint, (c.body #>> '{batch,claim}')::uuid,
        pg_temp.results_for(p_claim, p_result))
    from claims as c where c.name = p_claim
$$;

-- =============================================================================
-- Targets: one per server, owner and probe-relevant config
-- =============================================================================
select is(probe_target_key('{"timeout": 30000, "enableLogging": true}'), probe_target_key('{"timeout": 30000}'),
    'options that do not change a probe do not change the target');
select isnt(probe_target_key('{"timeout": 30000, "customHeaders": {"X-K": "1"}}'), probe_target_key('{"timeout": 30000}'),
    'custom headers make another target');
select isnt(probe_target_key('a0000000-0000-4000-8000-000000000001', '{"timeout": 30000}'),
            probe_target_key('b0000000-0000-4000-8000-000000000002', '{"timeout": 30000}'),
    'two owners with the same config have two targets');

select tests.authenticate_as_service_role();
select results_eq($$
    select owner_id, connections, skip_reason from mcp_health_check_targets(array['d0000000-0000-4000-8000-000000000001'::uuid])
    where probe_config = '{"timeout": 30000}' order by owner_id
$$, $$ values ('a0000000-0000-4000-8000-000000000001'::uuid, 2, null::text),
              ('b0000000-0000-4000-8000-000000000002'::uuid, 1, null) $$,
    'one owner''s connections sharing a server and probe config are one target; another owner''s are their own');
select results_eq($$
    select skip_reason from mcp_health_check_targets(array['d0000000-0000-4000-8000-000000000002'::uuid])
$$, $$ values ('server_not_running') $$, 'a server that is not running is skipped, with the reason');

-- =============================================================================
-- Issue 12, item 1: guessing another user's secret header through health history
-- =============================================================================
-- The owner connects to server three with a secret header; a cycle checks it.
select tests.clear_authentication();
insert into public.account_tool_instances (id, instance_name_on_toolbox, status_on_toolbox, mcp_server_url)
values ('d0000000-0000-4000-8000-0000000000e3', 'Server three', 'running', 'http://127.0.0.1:9/three');
insert into public.agent_mcp_connections (id, agent_id, mcp_server_instance_id, created_by, connection_config)
values ('a2000000-0000-4000-8000-0000000000a3', 'a1000000-0000-4000-8000-000000000001',
        'd0000000-0000-4000-8000-0000000000e3', 'a0000000-0000-4000-8000-000000000001',
        '{"customHeaders": {"X-Api-Key": "0007"}}');
select tests.authenticate_as_service_role();
select lives_ok($$
    select begin_mcp_health_check_run(60, 100, array['d0000000-0000-4000-8000-0000000000e3'::uuid])
$$, 'a cycle checks the owner''s connection to server three');
insert into claims
select 'secret', claim_mcp_health_check_batch((select id from mcp_health_check_runs where finished_at is null), 60);
select lives_ok($$ select pg_temp.record('secret', '{"success": true, "error": null, "latency": 12}') $$,
    'its outcome is recorded');

-- The other user tries 20 candidate values, one agent and connection each.
select tests.clear_authentication();
insert into public.agents (id, user_id, name)
select ('b1000000-0000-4000-8000-0000000001' || lpad(n::text, 2, '0'))::uuid,
       'b0000000-0000-4000-8000-000000000002', 'Guess ' || n
from generate_series(0, 19) as n;
select tests.authenticate_as('b0000000-0000-4000-8000-000000000002');
insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, connection_config)
select ('b1000000-0000-4000-8000-0000000001' || lpad(n::text, 2, '0'))::uuid,
       'd0000000-0000-4000-8000-0000000000e3',
       jsonb_build_object('customHeaders', jsonb_build_object('X-Api-Key', lpad(n::text, 4, '0')))
from generate_series(0, 19) as n;
select is((select count(*)::int from agent_mcp_connection_health_summary
           where mcp_server_instance_id = 'd0000000-0000-4000-8000-0000000000e3'), 20,
    'the guessing user sees their 20 connections in the summary');
select is((select count(*)::int from agent_mcp_connection_health_summary
           where mcp_server_instance_id = 'd0000000-0000-4000-8000-0000000000e3' and checks_7d > 0), 0,
    'none of them shows a check: the matching guess reads nothing of the owner''s history');
select is_empty($$ select id from mcp_health_checks where mcp_server_instance_id = 'd0000000-0000-4000-8000-0000000000e3' $$,
    'the guessing user reads none of the owner''s checks');
select tests.clear_authentication();
select tests.authenticate_as('a0000000-0000-4000-8000-000000000001');
select is((select checks_7d::int from agent_mcp_connection_health_summary
           where connection_id = 'a2000000-0000-4000-8000-0000000000a3'), 1,
    'the owner sees their own check');
select tests.clear_authentication();
select tests.authenticate_as_service_role();
select is((select count(*)::int from mcp_health_check_targets(array['d0000000-0000-4000-8000-0000000000e3'::uuid])), 21,
    'the owner''s config and the equal guess are two targets: nobody shares a probe or its result');

-- =============================================================================
-- A cycle: its batches, counts and lease
-- =============================================================================
select results_eq($$
    select resumed, retry_after_seconds is null from begin_mcp_health_check_run(
        60, 2, array['d0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002']::uuid[],
        null, 50, 250, 2)
$$, $$ values (false, true) $$, 'a cycle starts when none is in progress');
select results_eq($$
    select targets, batches, skipped, skip_reasons, finished_at is null
    from mcp_health_check_runs where finished_at is null
$$, $$ values (4, 2, 1, '{"server_not_running": 1}'::jsonb, true) $$,
    'three probeable targets in batches of two; the stopped server''s target is skipped with its reason');
select results_eq($$
    select run_id is null, retry_after_seconds > 0 from begin_mcp_health_check_run(60)
$$, $$ values (true, true) $$, 'a second cycle is refused while the first holds its lease');
select throws_ok($$ select begin_mcp_health_check_run(0) $$, '22023', 'lease must be 1 to 3600 seconds',
    'a lease must be positive');

-- =============================================================================
-- Claims: skip locked, leases, a killed invocation's batch is retried
-- =============================================================================
insert into claims
select 'first', claim_mcp_health_check_batch((select id from mcp_health_check_runs where finished_at is null), 60);
insert into claims
select 'second', claim_mcp_health_check_batch((select id from mcp_health_check_runs where finished_at is null), 60);
select results_eq($$
    select (body #>> '{batch,batchNo}')::int, jsonb_array_length(body #> '{batch,targets}'),
           (body #>> '{batch,attempt}')::int
    from claims where name in ('first', 'second') order by name
$$, $$ values (0, 2, 1), (1, 1, 1) $$, 'two invocations claim two different batches');
select is(claim_mcp_health_check_batch((select id from mcp_health_check_runs where finished_at is null), 60) -> 'batch',
    'null'::jsonb, 'no third batch to claim while both leases hold');

-- The first invocation dies: its lease runs out, a later one claims the batch again.
select tests.clear_authentication();
update mcp_health_check_batches set lease_expires_at = now() - interval '1 second'
where id = (select (body #>> '{batch,id}')::bigint from claims where name = 'first');
select tests.authenticate_as_service_role();
insert into claims
select 'retry', claim_mcp_health_check_batch((select id from mcp_health_check_runs where finished_at is null), 60);
select results_eq($$
    select (body #>> '{batch,batchNo}')::int, (body #>> '{batch,attempt}')::int from claims where name = 'retry'
$$, $$ values (0, 2) $$, 'a batch whose lease ran out is claimed again by a later invocation');
select throws_ok($$ select pg_temp.record('first', '{"success": true, "error": null, "latency": 5}') $$,
    '55000', null, 'the dead invocation''s claim can no longer write');
select is(extend_mcp_health_check_batch_lease(
        (select (body #>> '{batch,id}')::bigint from claims where name = 'retry'),
        (select (body #>> '{batch,claim}')::uuid from claims where name = 'retry')),
    true, 'a live invocation renews its lease');
select is(extend_mcp_health_check_batch_lease(
        (select (body #>> '{batch,id}')::bigint from claims where name = 'first'),
        (select (body #>> '{batch,claim}')::uuid from claims where name = 'first')),
    false, 'a dead invocation''s claim cannot renew the lease another one holds');

-- =============================================================================
-- Writing batches: the threshold, one success back, the end of the cycle
-- =============================================================================
select lives_ok($$
    select pg_temp.record('retry', '{"success": false, "error": {"class": "timeout", "message": "no answer"}, "latency": null}')
$$, 'the retried batch is recorded');
select lives_ok($$
    select pg_temp.record('second', '{"success": false, "error": {"class": "timeout", "message": "no answer"}, "latency": null}')
$$, 'the other batch is recorded');
select results_eq($$
    select connection_status, consecutive_failures, last_error_class
    from agent_mcp_connections c join agent_mcp_connection_health h on h.connection_id = c.id
    where c.id = 'a2000000-0000-4000-8000-000000000001'
$$, $$ values ('connected', 1, 'timeout') $$, 'the first failure below the threshold is counted, its class kept');
select results_eq($$
    select count(*)::int from mcp_health_checks where mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000001'
$$, $$ values (3) $$, 'one history row per target (three), not one per connection (four)');
select results_eq($$
    select batches_done, probed, unhealthy, skipped, finished_at is not null, duration_ms is not null
    from mcp_health_check_runs
    where id = (select (body #>> '{run,runId}')::uuid from claims where name = 'second')
$$, $$ values (2, 3, 3, 1, true, true) $$, 'after its last batch the cycle has ended, with its counts');
select throws_ok($$ select pg_temp.record('second', '{"success": true, "error": null, "latency": 5}') $$,
    '55000', null, 'a batch that is done cannot write again');

-- A second cycle (threshold 2): the owner's two connections turn error.
select ok((select run_id from begin_mcp_health_check_run(60, 10, array['d0000000-0000-4000-8000-000000000001'::uuid],
    null, 50, 250, 2)) is not null, 'after a cycle ends, the next one starts');
insert into claims
select 'c2', claim_mcp_health_check_batch((select id from mcp_health_check_runs where finished_at is null), 60);
select is((select jsonb_array_length(body #> '{batch,targets}') from claims where name = 'c2'), 3,
    'one batch holds the three targets');
select results_eq($$
    select (t ->> 'becameUnhealthy')::int, (t ->> 'becameHealthy')::int
    from jsonb_array_elements(pg_temp.record('c2',
        '{"success": false, "error": {"class": "timeout", "message": "no answer"}, "latency": null}') -> 'transitions') as t
    order by 1 desc
$$, $$ values (2, 0), (1, 0), (1, 0) $$,
    'the second failure reaches the threshold: the owner''s target turns its two connections error, the others one each');
select results_eq($$
    select connection_status from agent_mcp_connections
    where id in ('a2000000-0000-4000-8000-000000000001', 'a2000000-0000-4000-8000-0000000000a2',
                 'b2000000-0000-4000-8000-000000000002')
    order by id
$$, $$ values ('error'), ('error'), ('error') $$, 'every connection of the targets is in error');
select ok(
    (select last_status_change_at is not null from agent_mcp_connection_health
     where connection_id = 'a2000000-0000-4000-8000-000000000001'),
    'the time of the status change is kept'
);

-- A third cycle limited to one connection: a success brings it back at once.
select ok((select run_id from begin_mcp_health_check_run(60, 10, null,
    array['a2000000-0000-4000-8000-000000000001'::uuid], 50, 250, 2)) is not null, 'a third cycle starts');
insert into claims
select 'c3', claim_mcp_health_check_batch((select id from mcp_health_check_runs where finished_at is null), 60);
select results_eq($$
    select (t ->> 'becameUnhealthy')::int, (t ->> 'becameHealthy')::int
    from jsonb_array_elements(pg_temp.record('c3', '{"success": true, "error": null, "latency": 25}') -> 'transitions') as t
$$, $$ values (0, 1) $$, 'a success brings a connection back at once; a filter limits the cycle to its connections');
select results_eq($$
    select connection_status from agent_mcp_connections
    where id in ('a2000000-0000-4000-8000-000000000001', 'a2000000-0000-4000-8000-0000000000a2')
    order by id
$$, $$ values ('connected'), ('error') $$, 'only the selected connection changed');

-- =============================================================================
-- A batch that kills every invocation is given up after three claims
-- =============================================================================
select ok((select run_id from begin_mcp_health_check_run(60, 10, array['d0000000-0000-4000-8000-000000000001'::uuid]))
    is not null, 'a fourth cycle starts');
select tests.clear_authentication();
do $$
begin
    for i in 1..3 loop
        perform public.claim_mcp_health_check_batch(
            (select id from public.mcp_health_check_runs where finished_at is null), 60);
        update public.mcp_health_check_batches set lease_expires_at = now() - interval '1 second'
        where run_id = (select id from public.mcp_health_check_runs where finished_at is null);
    end loop;
end;
$$;
select tests.authenticate_as_service_role();
select results_eq($$
    select (r -> 'batch') = 'null'::jsonb, (r #>> '{run,finishedAt}') is not null,
           (r #>> '{run,skipReasons,batch_failed}')::int
    from claim_mcp_health_check_batch(
        (select id from mcp_health_check_runs order by started_at desc limit 1), 60) as r
$$, $$ values (true, true, 3) $$,
    'after three dead claims the batch is given up, its targets counted as batch_failed, and the cycle ends');

-- =============================================================================
-- Write statements per batch do not grow with the batch
-- =============================================================================
select tests.clear_authentication();
create temporary table write_count (n integer not null default 0);
insert into write_count values (0);
grant all on write_count to service_role;
create function pg_temp.count_write() returns trigger language plpgsql as $$
begin
    update pg_temp.write_count set n = n + 1;
    return null;
end;
$$;
create trigger count_writes after insert or update or delete on public.mcp_health_checks
    for each statement execute function pg_temp.count_write();
create trigger count_writes after insert or update or delete on public.agent_mcp_connection_health
    for each statement execute function pg_temp.count_write();
create trigger count_writes after insert or update or delete on public.agent_mcp_connections
    for each statement execute function pg_temp.count_write();
create trigger count_writes after insert or update or delete on public.mcp_health_check_batches
    for each statement execute function pg_temp.count_write();
create trigger count_writes after insert or update or delete on public.mcp_health_check_runs
    for each statement execute function pg_temp.count_write();
-- Server three now has 21 targets (the owner's and 20 guesses): a batch of 1 and a batch of 20.
select tests.authenticate_as_service_role();
select ok((select run_id from begin_mcp_health_check_run(60, 20, array['d0000000-0000-4000-8000-0000000000e3'::uuid]))
    is not null, 'a cycle of 21 targets in batches of 20 starts');
insert into claims
select 'big', claim_mcp_health_check_batch((select id from mcp_health_check_runs where finished_at is null), 60);
insert into claims
select 'small', claim_mcp_health_check_batch((select id from mcp_health_check_runs where finished_at is null), 60);
update write_count set n = 0;
select ok(pg_temp.record('big', '{"success": true, "error": null, "latency": 5}') is not null, 'the batch of 20 is recorded');
create temporary table big_writes as select n from write_count;
update write_count set n = 0;
select ok(pg_temp.record('small', '{"success": true, "error": null, "latency": 5}') is not null, 'the batch of 1 is recorded');
select results_eq($$
    select (select jsonb_array_length(body #> '{batch,targets}') from claims where name = 'big'),
           (select jsonb_array_length(body #> '{batch,targets}') from claims where name = 'small')
$$, $$ values (20, 1) $$, 'the two batches hold 20 targets and 1');
-- history, connections, health (insert .. on conflict: insert and update), batch,
-- cycle counts, the cycle's end (a no-op until its last batch).
select is((select n from big_writes), 7, 'a batch of 20 targets writes in 7 statements');
select is((select n from write_count), 7 + 2,
    'the last batch, of 1 target, writes as many, plus retention when the cycle ends (2 more)');

-- =============================================================================
-- Fairness: round-robin across owners, a cap per owner, a budget per origin
-- =============================================================================
-- The other user now has 20 configs on server three (plus the guesses' owner is them);
-- the owner has one. With a cap of 5 per owner the owner's target comes in the first two.
select results_eq($$
    select skip_reason, count(*)::int from mcp_health_check_targets(
        array['d0000000-0000-4000-8000-0000000000e3'::uuid], null, 5, 1000, 'seed')
    group by skip_reason order by skip_reason nulls first
$$, $$ values (null::text, 6), ('owner_cap', 15) $$,
    'an owner with 20 configs gets 5 targets in a cycle, the rest are skipped as owner_cap');
select ok((select target_position <= 2 from mcp_health_check_targets(
        array['d0000000-0000-4000-8000-0000000000e3'::uuid], null, 5, 1000, 'seed')
    where owner_id = 'a0000000-0000-4000-8000-000000000001'),
    'the owner with one config is probed among the first two targets, not behind the other''s 20');
select results_eq($$
    select skip_reason, count(*)::int from mcp_health_check_targets(
        array['d0000000-0000-4000-8000-0000000000e3'::uuid], null, 50, 9, 'seed')
    group by skip_reason order by skip_reason nulls first
$$, $$ values (null::text, 3), ('origin_budget', 18) $$,
    'an origin gets at most its budget of attempts (3 targets of 1 + 2 retries in 9), the rest are skipped');

-- =============================================================================
-- Retention
-- =============================================================================
select tests.clear_authentication();
update mcp_health_checks set checked_at = now() - interval '20 days'
where id = (select min(id) from mcp_health_checks where mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000001');
select tests.authenticate_as_service_role();
select ok((select run_id from begin_mcp_health_check_run(60, 10, array['d0000000-0000-4000-8000-000000000001'::uuid],
    null, 50, 250, 3, 14)) is not null, 'a cycle starts');
insert into claims
select 'retention', claim_mcp_health_check_batch((select id from mcp_health_check_runs where finished_at is null), 60);
select lives_ok($$ select pg_temp.record('retention', '{"success": true, "error": null, "latency": 5}') $$,
    'its batch is recorded and the cycle ends');
select results_eq($$
    select count(*)::int from mcp_health_checks where mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000001'
$$, $$ values (3 + 3 + 1 + 3 - 1) $$,
    'history older than the retention is deleted when a cycle ends');

-- =============================================================================
-- Users: their own health rows, nothing to write, no cycle functions
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as('b0000000-0000-4000-8000-000000000002');
select results_eq($$ select connection_id from agent_mcp_connection_health
    where connection_id in ('a2000000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000002') $$,
    $$ values ('b2000000-0000-4000-8000-000000000002'::uuid) $$, 'a user sees the health of their own connections only');
select ok((select bool_and(owner_id = 'b0000000-0000-4000-8000-000000000002') from mcp_health_checks),
    'a user reads only checks written for their own targets');
select throws_ok($$ select * from mcp_health_check_runs $$, '42501', 'permission denied for table mcp_health_check_runs',
    'cycles are not for users');
select throws_ok($$ select * from mcp_health_check_batches $$, '42501', 'permission denied for table mcp_health_check_batches',
    'batches are not for users');
select throws_ok($$ update agent_mcp_connection_health set consecutive_failures = 0 $$, '42501',
    'permission denied for table agent_mcp_connection_health', 'users cannot write health rows');
select throws_ok($$ select begin_mcp_health_check_run(60) $$, '42501',
    'permission denied for function begin_mcp_health_check_run', 'users cannot start cycles');
select throws_ok($$ select claim_mcp_health_check_batch(gen_random_uuid(), 60) $$, '42501',
    'permission denied for function claim_mcp_health_check_batch', 'users cannot claim batches');

select tests.clear_authentication();
select * from finish();
rollback;
