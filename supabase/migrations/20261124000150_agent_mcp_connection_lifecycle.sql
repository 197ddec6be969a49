-- =============================================================================
-- A user's operations on their connections, as functions with one error contract:
--
--   connect_agent_mcp_server()             a new active connection
--   update_agent_mcp_connection_config()   replace an active connection's config
--   disconnect_agent_mcp_connection()      soft delete (the row stays as history)
--
-- SECURITY INVOKER: the caller's RLS decides which agents and connections they may
-- use, and the table's triggers decide the rest (a running server, one active
-- connection per agent and server, the per-user limits, a disconnected connection
-- is frozen and 'disconnected'), so a direct write through the API meets exactly
-- the same rules. Every refusal is a coded error (agent_mcp_private.raise_error():
-- SQLSTATE PT<status>, DETAIL {"code": ...}), as for begin/finish test and usage:
--
--   PT404 agent_not_found          the agent does not exist or is not the caller's
--   PT404 mcp_server_not_found     the server does not exist
--   PT404 connection_not_found     the connection does not exist or is not the caller's
--   PT409 already_connected        DETAIL has the active connection's connectionId
--   PT409 connection_inactive      the connection is disconnected
--   PT409 mcp_server_not_running   the server is pending, starting, stopped or in error
--   PT409 connection_limit_reached DETAIL has the limit's name and maximum
--   23514 / 23502                  a config the check constraint refuses, or null
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: connect_agent_mcp_server()
-- -----------------------------------------------------------------------------

-- Connects one of the caller's agents to an MCP server; returns the new connection
-- (status 'disconnected' until it is tested).
create or replace function public.connect_agent_mcp_server(
    p_agent_id uuid,
    p_mcp_server_instance_id uuid,
    p_connection_config jsonb default '{}'::jsonb
)
returns setof public.agent_mcp_connections
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    winner uuid;
begin
    return query
        insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, connection_config)
        values (p_agent_id, p_mcp_server_instance_id, coalesce(p_connection_config, '{}'::jsonb))
        returning *;
exception
    -- The insert policy refused: not one of the caller's agents (or no such agent).
    when insufficient_privilege or foreign_key_violation then
        perform agent_mcp_private.raise_error(404, 'agent_not_found',
            format('Agent %s was not found.', p_agent_id));
    -- The unique index, should a writer ever bypass the trigger's lock.
    when unique_violation then
        select c.id into winner
        from public.agent_mcp_connections as c
        where c.agent_id = p_agent_id
          and c.mcp_server_instance_id = p_mcp_server_instance_id
          and c.is_active;
        perform agent_mcp_private.raise_error(409, 'already_connected',
            'This agent already has an active connection to this MCP server.',
            jsonb_build_object('connectionId', winner));
end;
$$;

comment on function public.connect_agent_mcp_server(uuid, uuid, jsonb) is
    'Connects one of the caller''s agents to a running MCP server; coded errors (see the migration).';


-- -----------------------------------------------------------------------------
-- Section: update_agent_mcp_connection_config()
-- -----------------------------------------------------------------------------

-- Replaces an active connection's config; returns the connection.
create or replace function public.update_agent_mcp_connection_config(
    p_connection_id uuid,
    p_connection_config jsonb
)
returns setof public.agent_mcp_connections
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return query
        update public.agent_mcp_connections as c
        set connection_config = p_connection_config
        where c.id = p_connection_id
        returning c.*;
    if not found then
        perform agent_mcp_private.raise_error(404, 'connection_not_found',
            format('Connection %s was not found.', p_connection_id));
    end if;
end;
$$;

comment on function public.update_agent_mcp_connection_config(uuid, jsonb) is
    'Replaces an active connection''s config; coded errors (see the migration).';


-- -----------------------------------------------------------------------------
-- Section: disconnect_agent_mcp_connection()
-- -----------------------------------------------------------------------------

-- Disconnects (is_active = false; the guard trigger sets 'disconnected') and returns
-- the connection. Disconnecting a disconnected connection returns it unchanged.
create or replace function public.disconnect_agent_mcp_connection(p_connection_id uuid)
returns setof public.agent_mcp_connections
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return query
        update public.agent_mcp_connections as c
        set is_active = false
        where c.id = p_connection_id
          and c.is_active
        returning c.*;
    if found then
        return;
    end if;
    return query
        select * from public.agent_mcp_connections as c where c.id = p_connection_id;
    if not found then
        perform agent_mcp_private.raise_error(404, 'connection_not_found',
            format('Connection %s was not found.', p_connection_id));
    end if;
end;
$$;

comment on function public.disconnect_agent_mcp_connection(uuid) is
    'Disconnects a connection (soft delete); coded errors (see the migration).';


-- -----------------------------------------------------------------------------
-- Section: grants
-- -----------------------------------------------------------------------------

revoke execute on function public.connect_agent_mcp_server(uuid, uuid, jsonb) from public, anon;
revoke execute on function public.update_agent_mcp_connection_config(uuid, jsonb) from public, anon;
revoke execute on function public.disconnect_agent_mcp_connection(uuid) from public, anon;
grant execute on function public.connect_agent_mcp_server(uuid, uuid, jsonb) to authenticated, service_role;
grant execute on function public.update_agent_mcp_connection_config(uuid, jsonb) to authenticated, service_role;
grant execute on function public.disconnect_agent_mcp_connection(uuid) to authenticated, service_role;
