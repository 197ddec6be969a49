-- =============================================================================
-- HTTP statuses of the connection functions' errors, for callers of PostgREST.
--
-- record_agent_mcp_connection_usage(), begin_agent_mcp_connection_test() and
-- finish_agent_mcp_connection_test() raised P0002 (no such connection visible to
-- the caller) and 55000 (the connection is disconnected). PostgREST answers both
-- with HTTP 500, so `supabase.rpc(...)` on another user's or a disconnected
-- connection looked like a server failure. PostgREST turns the SQLSTATEs PT404 and
-- PT409 into HTTP 404 and 409, with the message kept:
--
--   PT404  no such connection visible to the caller (other users' rows included)
--   PT409  the connection is disconnected
--
-- The functions are otherwise unchanged (22023 for bad input stays: HTTP 400).
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: record_agent_mcp_connection_usage()
-- -----------------------------------------------------------------------------

-- Records usage events for an active connection and returns its new usage_stats.
--   p_events: a JSON array of 1 .. 1000 usage events (see is_valid_usage_event).
-- Errors: 22023 bad events (the message names the first bad one), PT404 no such
-- connection visible to the caller, PT409 the connection is disconnected.
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
    new_stats jsonb;
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

    -- One statement: aggregate the batch and add it to the stored totals.
    with batch as (
        select
            count(*) as requests,
            count(*) filter (where (e ->> 'success')::boolean) as successes,
            sum((e ->> 'responseTimeMs')::numeric) as response_time,
            sum((e ->> 'bytesTransferred')::numeric) as bytes
        from jsonb_array_elements(p_events) as e
    )
    update public.agent_mcp_connections as c
    set usage_stats = c.usage_stats || jsonb_build_object(
            'totalRequests', public.usage_stat(c.usage_stats, 'totalRequests') + b.requests,
            'successfulRequests', public.usage_stat(c.usage_stats, 'successfulRequests') + b.successes,
            'failedRequests', public.usage_stat(c.usage_stats, 'failedRequests') + (b.requests - b.successes),
            'totalResponseTime', public.usage_stat(c.usage_stats, 'totalResponseTime') + b.response_time,
            'averageResponseTime', round(
                (public.usage_stat(c.usage_stats, 'totalResponseTime') + b.response_time)
                / (public.usage_stat(c.usage_stats, 'totalRequests') + b.requests),
                3
            ),
            'bytesTransferred', public.usage_stat(c.usage_stats, 'bytesTransferred') + b.bytes,
            'lastUsed', to_jsonb(now())
        ),
        last_used = now()
    from batch as b
    where c.id = p_connection_id
      and c.is_active
    returning c.usage_stats into new_stats;

    if new_stats is null then
        if exists (select 1 from public.agent_mcp_connections where id = p_connection_id) then
            raise exception 'connection % is disconnected', p_connection_id using errcode = 'PT409';
        end if;
        raise exception 'connection % not found', p_connection_id using errcode = 'PT404';
    end if;

    return new_stats;
end;
$$;


-- -----------------------------------------------------------------------------
-- Section: begin_agent_mcp_connection_test()
-- -----------------------------------------------------------------------------

-- Marks an active connection as being tested (see the *_connection_tests migration).
-- Errors: PT404 no such connection visible to the caller, PT409 it is disconnected.
create or replace function public.begin_agent_mcp_connection_test(p_connection_id uuid)
returns table (previous_status text, connection_config jsonb, mcp_server_url text)
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    found_status text;
    found_active boolean;
    found_config jsonb;
    found_url text;
begin
    select c.connection_status, c.is_active, c.connection_config, s.mcp_server_url
    into found_status, found_active, found_config, found_url
    from public.agent_mcp_connections as c
    join public.account_tool_instances as s on s.id = c.mcp_server_instance_id
    where c.id = p_connection_id
    for update of c;

    if not found then
        raise exception 'connection % not found', p_connection_id using errcode = 'PT404';
    end if;
    if not found_active then
        raise exception 'connection % is disconnected', p_connection_id using errcode = 'PT409';
    end if;

    if found_url is not null then
        update public.agent_mcp_connections
        set connection_status = 'testing'
        where id = p_connection_id;
    end if;

    return query select found_status, found_config, found_url;
end;
$$;


-- -----------------------------------------------------------------------------
-- Section: finish_agent_mcp_connection_test()
-- -----------------------------------------------------------------------------

-- Ends a test: stores the result, or restores the status of a cancelled test.
-- Errors: 22023 a bad result or restore status, PT404 no such connection visible
-- to the caller.
create or replace function public.finish_agent_mcp_connection_test(
    p_connection_id uuid,
    p_result jsonb,
    p_restore_status text default 'disconnected'
)
returns setof public.agent_mcp_connections
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    if p_result is not null
        and (jsonb_typeof(p_result) <> 'object' or jsonb_typeof(p_result -> 'success') is distinct from 'boolean') then
        raise exception 'a test result is an object with a boolean "success"' using errcode = '22023';
    end if;
    if p_restore_status is null or p_restore_status not in ('connected', 'disconnected', 'error') then
        raise exception 'restore status must be connected, disconnected or error' using errcode = '22023';
    end if;

    if p_result is null then
        return query
            update public.agent_mcp_connections as c
            set connection_status = case
                    when c.is_active and c.connection_status = 'testing' then p_restore_status
                    else c.connection_status
                end
            where c.id = p_connection_id
            returning c.*;
    else
        return query
            update public.agent_mcp_connections as c
            set connection_test_result = p_result,
                connection_status = case
                    when not c.is_active then 'disconnected'
                    when (p_result ->> 'success')::boolean then 'connected'
                    else 'error'
                end
            where c.id = p_connection_id
            returning c.*;
    end if;

    if not found then
        raise exception 'connection % not found', p_connection_id using errcode = 'PT404';
    end if;
end;
$$;
