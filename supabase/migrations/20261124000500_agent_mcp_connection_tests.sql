-- =============================================================================
-- Connection tests: the two writes around a probe of the MCP server.
--
--   begin_agent_mcp_connection_test()   active connection -> 'testing'; returns what
--                                       the probe needs (config, server URL) and the
--                                       status to restore if the test is cancelled
--   finish_agent_mcp_connection_test()  stores the result; 'connected' or 'error'
--                                       (or restores the previous status)
--
-- Both are SECURITY INVOKER: the caller's RLS decides which connections they may
-- test. A connection disconnected while its test runs stays 'disconnected' (the
-- table's check constraint allows nothing else), and the result is still kept.
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: begin_agent_mcp_connection_test()
-- -----------------------------------------------------------------------------

-- Marks an active connection as being tested. Returns one row:
--   previous_status    the status before, to restore if the test is cancelled
--   connection_config  the connection's options for the probe
--   mcp_server_url     the server's URL; when null, nothing was changed (no test possible)
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

comment on function public.begin_agent_mcp_connection_test(uuid) is
    'Marks an active connection as testing; returns its config, its server URL and the status to restore.';


-- -----------------------------------------------------------------------------
-- Section: finish_agent_mcp_connection_test()
-- -----------------------------------------------------------------------------

-- Ends a test. With a result ({"success": boolean, ...}): stores it and sets the
-- status to 'connected' or 'error'. Without one (the test was cancelled): puts back
-- p_restore_status if the connection is still 'testing'. Returns the connection.
-- Errors: 22023 a result without a boolean success or a bad restore status,
-- PT404 no such connection visible to the caller.
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

comment on function public.finish_agent_mcp_connection_test(uuid, jsonb, text) is
    'Stores a test result and sets connected/error, or restores the status of a cancelled test.';


-- -----------------------------------------------------------------------------
-- Section: grants
-- -----------------------------------------------------------------------------

revoke execute on function public.begin_agent_mcp_connection_test(uuid) from public, anon;
revoke execute on function public.finish_agent_mcp_connection_test(uuid, jsonb, text) from public, anon;
grant execute on function public.begin_agent_mcp_connection_test(uuid) to authenticated, service_role;
grant execute on function public.finish_agent_mcp_connection_test(uuid, jsonb, text)
    to authenticated, service_role;
