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


-- -----------------------------------------------------------------------------
-- Section: the writer (agent_mcp_private, not exposed)
-- -----------------------------------------------------------------------------

-- Adds a batch of valid events to a connection's usage_stats and last_used in one
-- UPDATE, and returns the new usage_stats. SECURITY DEFINER because users hold no
-- UPDATE privilege on these columns: it is called only by
-- record_agent_mcp_connection_usage(), after that function (with the caller's
-- rights) has found and locked the connection under the caller's RLS. PostgREST
-- does not expose this schema.
create or replace function agent_mcp_private.add_connection_usage(
    p_connection_id uuid,
    p_events jsonb
)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
    with batch as (
        select
            count(*) as requests,
            count(*) filter (where (e ->> 'success')::boolean) as successes,
            sum((e ->> 'responseTimeMs')::numeric) as response_time,
            sum((e ->> 'bytesTransferred')::numeric) as bytes
        from jsonb_array_elements(p_events) as e
    ),
    -- Counters saturate at the bound usage_stats allows (10^21) instead of failing.
    totals as (
        select
            c.id,
            least(public.usage_stat(c.usage_stats, 'totalRequests') + b.requests, 1e21) as requests,
            least(public.usage_stat(c.usage_stats, 'successfulRequests') + b.successes, 1e21) as successes,
            least(public.usage_stat(c.usage_stats, 'failedRequests') + (b.requests - b.successes), 1e21)
                as failures,
            least(public.usage_stat(c.usage_stats, 'totalResponseTime') + b.response_time, 1e21)
                as response_time,
            least(public.usage_stat(c.usage_stats, 'bytesTransferred') + b.bytes, 1e21) as bytes
        from public.agent_mcp_connections as c, batch as b
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
            'lastUsed', to_jsonb(now())
        ),
        last_used = now()
    from totals as t
    where c.id = t.id
    returning c.usage_stats;
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
