-- =============================================================================
-- Usage recording: one SQL function adds one event or a batch of events to a
-- connection's usage_stats and last_used in a single UPDATE. Concurrent callers
-- serialise on the row lock and each adds to the value the previous one wrote
-- (READ COMMITTED re-evaluates SET on the newest row version), so no update is
-- lost — unlike the draft's read-modify-write from the client.
--
-- SECURITY INVOKER: the caller's RLS decides which connections they may record
-- usage for. Errors use the SQLSTATEs PostgREST turns into HTTP statuses, so
-- `supabase.rpc()` callers get 404 (PT404) and 409 (PT409), not 500.
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


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

comment on function public.record_agent_mcp_connection_usage(uuid, jsonb) is
    'Adds 1..1000 usage events to an active connection''s usage_stats atomically; returns the new usage_stats.';

revoke execute on function public.record_agent_mcp_connection_usage(uuid, jsonb) from public, anon;
grant execute on function public.record_agent_mcp_connection_usage(uuid, jsonb) to authenticated, service_role;
