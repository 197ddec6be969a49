-- =============================================================================
-- Connection tests: the two writes around a probe of the MCP server.
--
--   begin_agent_mcp_connection_test()   active connection -> 'testing'; returns what
--                                       the probe needs (config, server URL) and the
--                                       status to restore if the test is cancelled
--   finish_agent_mcp_connection_test()  stores the result; 'connected' or 'error'
--                                       (or restores the previous status)
--
-- Both are SECURITY INVOKER: the caller's RLS finds and locks the connection; then
-- a private SECURITY DEFINER writer changes the status and result (columns users
-- may not write). A connection disconnected while its test runs stays
-- 'disconnected' (the guard trigger decides), and the result is still kept.
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: the writers (agent_mcp_private, not exposed)
-- -----------------------------------------------------------------------------

-- Users hold no UPDATE privilege on connection_status and connection_test_result.
-- These SECURITY DEFINER writers change them, and are called only by the two
-- public functions below after those (with the caller's rights) have found and
-- locked the connection under the caller's RLS. PostgREST does not expose them.

-- Marks a connection as being tested.
create or replace function agent_mcp_private.mark_connection_testing(p_connection_id uuid)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
    update public.agent_mcp_connections
    set connection_status = 'testing'
    where id = p_connection_id;
$$;

-- Stores a test result and sets 'connected' or 'error'; with no result, puts
-- p_restore_status back on a connection that is still 'testing'. The guard
-- trigger keeps a disconnected connection 'disconnected' either way.
create or replace function agent_mcp_private.store_connection_test(
    p_connection_id uuid,
    p_result jsonb,
    p_restore_status text
)
returns setof public.agent_mcp_connections
language sql
volatile
security definer
set search_path = ''
as $$
    update public.agent_mcp_connections as c
    set connection_test_result = coalesce(p_result, c.connection_test_result),
        connection_status = case
            when p_result is not null and (p_result ->> 'success')::boolean then 'connected'
            when p_result is not null then 'error'
            when c.connection_status = 'testing' then p_restore_status
            else c.connection_status
        end
    where c.id = p_connection_id
    returning c.*;
$$;

revoke execute on function agent_mcp_private.mark_connection_testing(uuid) from public, anon;
revoke execute on function agent_mcp_private.store_connection_test(uuid, jsonb, text) from public, anon;
grant execute on function agent_mcp_private.mark_connection_testing(uuid) to authenticated, service_role;
grant execute on function agent_mcp_private.store_connection_test(uuid, jsonb, text)
    to authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: begin_agent_mcp_connection_test()
-- -----------------------------------------------------------------------------

-- Marks an active connection of a running server as being tested. Returns one row:
--   previous_status    the status before, to restore if the test is cancelled
--   connection_config  the connection's options for the probe
--   mcp_server_url     the server's URL
--   mcp_server_id      the server's id (the key of its credentials, read afterwards
--                      with the service role: 20261124001200_mcp_server_credentials.sql)
-- Errors (agent_mcp_private.raise_error()): PT404 connection_not_found (none visible
-- to the caller), PT409 connection_inactive, PT409 mcp_server_not_running (the
-- server is pending, starting, stopped or in error: nothing to probe, and the last
-- real result stays), PT409 mcp_server_unreachable (the server has no URL).
-- Nothing is changed when it raises. (Dropped first: its result gained a column.)
drop function if exists public.begin_agent_mcp_connection_test(uuid);
create function public.begin_agent_mcp_connection_test(p_connection_id uuid)
returns table (previous_status text, connection_config jsonb, mcp_server_url text, mcp_server_id uuid)
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
    server_id uuid;
    server_status text;
begin
    select c.connection_status, c.is_active, c.connection_config, s.mcp_server_url,
           s.id, s.status_on_toolbox
    into found_status, found_active, found_config, found_url, server_id, server_status
    from public.agent_mcp_connections as c
    join public.account_tool_instances as s on s.id = c.mcp_server_instance_id
    where c.id = p_connection_id
    for no key update of c;

    if not found then
        perform agent_mcp_private.raise_error(404, 'connection_not_found',
            format('Connection %s was not found.', p_connection_id));
    end if;
    if not found_active then
        perform agent_mcp_private.raise_error(409, 'connection_inactive',
            format('Connection %s is disconnected; connect the agent again to use it.', p_connection_id));
    end if;
    if not agent_mcp_private.mcp_server_is_running(server_status) then
        perform agent_mcp_private.raise_error(409, 'mcp_server_not_running',
            format('MCP server %s is %s, not running; test the connection once it runs.',
                   server_id, server_status),
            jsonb_build_object('serverStatus', server_status));
    end if;
    if found_url is null then
        perform agent_mcp_private.raise_error(409, 'mcp_server_unreachable',
            format('MCP server %s has no URL to test.', server_id));
    end if;

    perform agent_mcp_private.mark_connection_testing(p_connection_id);
    return query select found_status, found_config, found_url, server_id;
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
-- A connection disconnected meanwhile stays 'disconnected' and keeps the result.
-- Errors: 22023 a result without a boolean success or a bad restore status,
-- PT404 connection_not_found (none visible to the caller), 23514 a result larger
-- than agent_mcp_private.max_test_result_bytes().
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

    perform 1
    from public.agent_mcp_connections as c
    where c.id = p_connection_id
    for no key update;
    if not found then
        perform agent_mcp_private.raise_error(404, 'connection_not_found',
            format('Connection %s was not found.', p_connection_id));
    end if;

    return query
        select * from agent_mcp_private.store_connection_test(p_connection_id, p_result, p_restore_status);
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
