-- Health checks: the run lease, the set-based write, the threshold, retention, and who reads what.
begin;
select plan(24);
\ir _helpers.psql

-- Two more connections of server one with the owner's config ({"timeout": 30000}):
-- the three share one probe target.
insert into public.agents (id, user_id, name) values
    ('a1000000-0000-4000-8000-0000000000a2', 'a0000000-0000-4000-8000-000000000001', 'Owner agent 2');
insert into public.agent_mcp_connections (id, agent_id, mcp_server_instance_id, created_by, connection_config)
values ('a2000000-0000-4000-8000-0000000000a2', 'a1000000-0000-4000-8000-0000000000a2',
        'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001', '{"timeout": 30000}');
update public.agent_mcp_connections set connection_config = '{"timeout": 30000}'
where id = 'b2000000-0000-4000-8000-000000000002';
update public.agent_mcp_connections set connection_status = 'connected'
where id in ('a2000000-0000-4000-8000-000000000001', 'b2000000-0000-4000-8000-000000000002');

-- =============================================================================
-- Targets
-- =============================================================================
select is(probe_target_key('{"timeout": 30000, "enableLogging": true}'), probe_target_key('{"timeout": 30000}'),
    'options that do not change a probe do not change the target');
select isnt(probe_target_key('{"timeout": 30000, "customHeaders": {"X-K": "1"}}'), probe_target_key('{"timeout": 30000}'),
    'custom headers make another target');

select tests.authenticate_as_service_role();
select results_eq($$
    select connections from mcp_health_check_targets(array['d0000000-0000-4000-8000-000000000001'::uuid])
    where probe_config = '{"timeout": 30000}'
$$, $$ values (3) $$, 'connections sharing a server and probe config are one target');

-- =============================================================================
-- The run lease
-- =============================================================================
select ok(begin_mcp_health_check_run(60) is not null, 'a run starts when none is in progress');
select ok(begin_mcp_health_check_run(60) is null, 'a second run is refused while the first holds its lease');
select throws_ok($$ select begin_mcp_health_check_run(0) $$, '22023', 'lease must be 1 to 3600 seconds',
    'a lease must be positive');

-- =============================================================================
-- Writing a run: three failures turn the connections error, one success back
-- =============================================================================
create temporary table failed_result as
select jsonb_build_array(jsonb_build_object(
    'serverId', 'd0000000-0000-4000-8000-000000000001',
    'targetKey', probe_target_key('{"timeout": 30000}'),
    'result', '{"success": false, "error": {"class": "timeout", "message": "no answer"}, "latency": null}'::jsonb
)) as results;
grant select on failed_result to service_role;

select tests.clear_authentication();
update mcp_health_check_runs set lease_expires_at = now() + interval '1 second', started_at = now() - interval '1 hour';
select tests.authenticate_as_service_role();

select is_empty($$
    select * from record_mcp_health_check_run(
        (select id from mcp_health_check_runs where finished_at is null order by started_at desc limit 1),
        (select results from failed_result), '{"probed": 1}', null, null, 2)
$$, 'the first failure below the threshold changes no status');
select results_eq($$
    select connection_status, consecutive_failures, last_error_class
    from agent_mcp_connections c join agent_mcp_connection_health h on h.connection_id = c.id
    where c.id = 'a2000000-0000-4000-8000-000000000001'
$$, $$ values ('connected', 1, 'timeout') $$, 'the failure is counted and its class kept');
select results_eq($$
    select count(*)::int from mcp_health_checks where mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000001'
$$, $$ values (1) $$, 'one history row for the target, not one per connection');

select throws_ok($$
    select * from record_mcp_health_check_run(
        (select id from mcp_health_check_runs order by started_at desc limit 1),
        (select results from failed_result), '{}')
$$, '55000', null, 'a run that has ended cannot write again');

select tests.clear_authentication();
select tests.authenticate_as_service_role();
select ok(begin_mcp_health_check_run(60) is not null, 'after a run ends, the next one starts');
select results_eq($$
    select became_unhealthy, became_healthy from record_mcp_health_check_run(
        (select id from mcp_health_check_runs where finished_at is null),
        (select results from failed_result), '{"probed": 1}', null, null, 2)
$$, $$ values (3, 0) $$, 'the second failure reaches the threshold: the target''s three connections turn error');
select results_eq($$
    select connection_status from agent_mcp_connections
    where id in ('a2000000-0000-4000-8000-000000000001', 'a2000000-0000-4000-8000-0000000000a2',
                 'b2000000-0000-4000-8000-000000000002')
    order by id
$$, $$ values ('error'), ('error'), ('error') $$, 'every connection of the target is in error');
select ok(
    (select last_status_change_at is not null from agent_mcp_connection_health
     where connection_id = 'a2000000-0000-4000-8000-000000000001'),
    'the time of the status change is kept'
);

select ok(begin_mcp_health_check_run(60) is not null, 'a third run starts');
select results_eq($$
    select became_unhealthy, became_healthy from record_mcp_health_check_run(
        (select id from mcp_health_check_runs where finished_at is null),
        jsonb_build_array(jsonb_build_object(
            'serverId', 'd0000000-0000-4000-8000-000000000001',
            'targetKey', probe_target_key('{"timeout": 30000}'),
            'result', '{"success": true, "error": null, "latency": 25}'::jsonb)),
        '{"probed": 1}', null, array['a2000000-0000-4000-8000-000000000001'::uuid], 2)
$$, $$ values (0, 1) $$, 'a success brings a connection back at once; a filter limits the run to its connections');
select results_eq($$
    select connection_status from agent_mcp_connections
    where id in ('a2000000-0000-4000-8000-000000000001', 'a2000000-0000-4000-8000-0000000000a2')
    order by id
$$, $$ values ('connected'), ('error') $$, 'only the selected connection changed');

-- =============================================================================
-- Retention
-- =============================================================================
select tests.clear_authentication();
update mcp_health_checks set checked_at = now() - interval '20 days'
where id = (select min(id) from mcp_health_checks where mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000001');
select tests.authenticate_as_service_role();
select ok(begin_mcp_health_check_run(60) is not null, 'a fourth run starts');
select lives_ok($$
    select * from record_mcp_health_check_run(
        (select id from mcp_health_check_runs where finished_at is null), '[]', '{}', null, null, 3, 14)
$$, 'a run with nothing to write still ends');
select results_eq($$
    select count(*)::int from mcp_health_checks where mcp_server_instance_id = 'd0000000-0000-4000-8000-000000000001'
$$, $$ values (2) $$,
    'history older than the retention is deleted');

-- =============================================================================
-- Users: their own health rows, nothing to write, no run functions
-- =============================================================================
select tests.clear_authentication();
select tests.authenticate_as('b0000000-0000-4000-8000-000000000002');
select results_eq($$ select connection_id from agent_mcp_connection_health $$,
    $$ values ('b2000000-0000-4000-8000-000000000002'::uuid) $$, 'a user sees the health of their own connections only');
select throws_ok($$ select * from mcp_health_check_runs $$, '42501', 'permission denied for table mcp_health_check_runs',
    'runs are not for users');
select throws_ok($$ update agent_mcp_connection_health set consecutive_failures = 0 $$, '42501',
    'permission denied for table agent_mcp_connection_health', 'users cannot write health rows');
select throws_ok($$ select begin_mcp_health_check_run(60) $$, '42501',
    'permission denied for function begin_mcp_health_check_run', 'users cannot start runs');

select tests.clear_authentication();
select * from finish();
rollback;
