-- =============================================================================
-- Helper views of the research draft, made safe: both run with the caller's
-- rights (security_invoker), so RLS on the underlying tables decides what a user
-- sees — their own connections and statistics only. (The draft's views ran as
-- their owner and showed every user's rows.)
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: active_agent_mcp_connections
-- -----------------------------------------------------------------------------

-- Active agent connections with agent and server details.
create or replace view public.active_agent_mcp_connections
with (security_invoker = true)
as
select
    amc.id,
    amc.agent_id,
    a.name as agent_name,
    amc.mcp_server_instance_id,
    ati.instance_name_on_toolbox as server_name,
    ati.status_on_toolbox::text as server_status,
    amc.connection_status,
    amc.connection_config,
    amc.last_used,
    amc.created_at,
    amc.updated_at
from public.agent_mcp_connections as amc
join public.agents as a on amc.agent_id = a.id
join public.account_tool_instances as ati on amc.mcp_server_instance_id = ati.id
where amc.is_active;

comment on view public.active_agent_mcp_connections is
    'Active connections of the caller''s agents, with agent and server names (security invoker).';


-- -----------------------------------------------------------------------------
-- Section: user_mcp_connection_stats
-- -----------------------------------------------------------------------------

-- Connection statistics by user: a signed-in user sees one row, their own.
create or replace view public.user_mcp_connection_stats
with (security_invoker = true)
as
select
    a.user_id,
    count(*) as total_connections,
    count(*) filter (where amc.connection_status = 'connected') as active_connections,
    count(*) filter (where amc.connection_status = 'error') as error_connections,
    max(amc.last_used) as last_connection_used,
    min(amc.created_at) as first_connection_created
from public.agent_mcp_connections as amc
join public.agents as a on amc.agent_id = a.id
where amc.is_active
group by a.user_id;

comment on view public.user_mcp_connection_stats is
    'Per-user statistics of active connections; each user sees their own row (security invoker).';


-- -----------------------------------------------------------------------------
-- Section: grants
-- -----------------------------------------------------------------------------

-- Read-only for every API role, service_role included (writes are refused as
-- privilege errors: see the *_read_only_views.sql migration).
revoke all on table public.active_agent_mcp_connections from public, anon, authenticated, service_role;
revoke all on table public.user_mcp_connection_stats from public, anon, authenticated, service_role;
grant select on table public.active_agent_mcp_connections to authenticated, service_role;
grant select on table public.user_mcp_connection_stats to authenticated, service_role;
