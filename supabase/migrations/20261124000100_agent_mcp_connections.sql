-- =============================================================================
-- agent_mcp_connections: which agent is connected to which MCP server, with the
-- connection's config, last test result, status and usage statistics.
--
-- Follows the research draft's columns, JSON shapes, indexes, trigger and
-- policies, with its defects fixed (see DESIGN.md §3):
--   * one active connection per (agent, server) is a partial unique index;
--   * validate_connection_config() returns false for anything wrong, never raises;
--   * policies evaluate auth.uid() once per query, not once per row;
--   * created_by defaults to the caller and never changes;
--   * every function pins its search_path; no uuid-ossp (gen_random_uuid() is core).
-- Admins read every connection through the functions of the *_admin.sql migration,
-- not through a second policy (an OR'd admin policy makes every user's list scan
-- the whole table).
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: config validation
-- -----------------------------------------------------------------------------

-- Whether a JSON value is an integral number within [low, high]. Never raises:
-- every JSON number casts to numeric, whatever its size, and the cast only runs
-- once the type is known (PL/pgSQL, so the planner cannot fold it early).
create or replace function public.jsonb_is_integer_between(value jsonb, low numeric, high numeric)
returns boolean
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
begin
    if value is null or jsonb_typeof(value) <> 'number' then
        return false;
    end if;
    return coalesce(value::numeric = trunc(value::numeric) and value::numeric between low and high, false);
end;
$$;

-- Signed-in users and service_role (check constraints and usage recording run it
-- with the caller's rights); not anon, nor PUBLIC.
revoke execute on function public.jsonb_is_integer_between(jsonb, numeric, numeric) from public, anon;
grant execute on function public.jsonb_is_integer_between(jsonb, numeric, numeric) to authenticated, service_role;

-- Whether customHeaders is an object of allowed header names to string values.
create or replace function public.validate_custom_headers(headers jsonb)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
    select coalesce(
        jsonb_typeof(headers) = 'object'
        and (
            select count(*) <= 32
               and count(distinct lower(h.key)) = count(*)
               and coalesce(bool_and(
                       char_length(h.key) between 1 and 256
                       and h.key ~ '^[-!#$%&''*+.^_`|~0-9A-Za-z]+$'
                       and lower(h.key) <> all (array[
                           'accept', 'connection', 'content-length', 'content-type', 'expect',
                           'host', 'http2-settings', 'keep-alive', 'last-event-id',
                           'mcp-protocol-version', 'mcp-session-id', 'proxy-authenticate',
                           'proxy-authorization', 'proxy-connection', 'te', 'trailer',
                           'transfer-encoding', 'upgrade'
                       ])
                       -- Reserved: JavaScript objects lose it on assignment (see
                       -- RESERVED_HEADER_NAMES in shared/schemas/connection_config.ts).
                       and lower(h.key) <> '__proto__'
                       and jsonb_typeof(h.value) = 'string'
                       and char_length(h.value #>> '{}') <= 4096
                       and (h.value #>> '{}') ~ '^[\t\x20-\x7e]*$'
                   ), true)
            from jsonb_each(case when jsonb_typeof(headers) = 'object' then headers end) as h
        ),
        false
    );
$$;

-- Signed-in users and service_role (check constraints run it with the caller's
-- rights); not anon, nor PUBLIC.
revoke execute on function public.validate_custom_headers(jsonb) from public, anon;
grant execute on function public.validate_custom_headers(jsonb) to authenticated, service_role;

-- Whether a connection_config is valid. The same rules as the zod schema in
-- shared/schemas/connection_config.ts (keep them in step):
--   timeout                integer milliseconds, 100 .. 120000
--   retryAttempts          integer, 0 .. 10
--   maxConcurrentRequests  integer, 1 .. 1000
--   enableLogging          boolean
--   customHeaders          object of at most 32 string values; names are RFC 9110
--                          tokens (<= 256 chars, unique ignoring case) and not
--                          hop-by-hop, framing or MCP transport headers, nor the
--                          reserved `__proto__`; values are visible ASCII, space or
--                          tab, <= 4096 chars
-- and no other key. Returns false (never raises) for any other input, null included.
create or replace function public.validate_connection_config(config jsonb)
returns boolean
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
declare
    option_name text;
    option_value jsonb;
begin
    if config is null or jsonb_typeof(config) <> 'object' then
        return false;
    end if;

    for option_name, option_value in select key, value from jsonb_each(config) loop
        case option_name
            when 'timeout' then
                if not public.jsonb_is_integer_between(option_value, 100, 120000) then
                    return false;
                end if;
            when 'retryAttempts' then
                if not public.jsonb_is_integer_between(option_value, 0, 10) then
                    return false;
                end if;
            when 'maxConcurrentRequests' then
                if not public.jsonb_is_integer_between(option_value, 1, 1000) then
                    return false;
                end if;
            when 'enableLogging' then
                if jsonb_typeof(option_value) <> 'boolean' then
                    return false;
                end if;
            when 'customHeaders' then
                if not public.validate_custom_headers(option_value) then
                    return false;
                end if;
            else
                return false;
        end case;
    end loop;

    return true;
end;
$$;

comment on function public.validate_connection_config(jsonb) is
    'True when a connection_config is valid (see the migration for the rules); never raises.';

-- Signed-in users and service_role (check constraints run it with the caller's
-- rights); not anon, nor PUBLIC.
revoke execute on function public.validate_connection_config(jsonb) from public, anon;
grant execute on function public.validate_connection_config(jsonb) to authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: table
-- -----------------------------------------------------------------------------

-- Stores connections between user agents and admin-deployed MCP servers.
-- Disconnecting is a soft delete (is_active = false); connecting again adds a row.
create table if not exists public.agent_mcp_connections (
    id uuid primary key default gen_random_uuid(),

    agent_id uuid not null references public.agents (id) on delete cascade,
    mcp_server_instance_id uuid not null
        references public.account_tool_instances (id) on delete cascade,

    connection_config jsonb not null default '{}'::jsonb,
    connection_test_result jsonb,

    is_active boolean not null default true,
    connection_status text not null default 'disconnected',

    last_used timestamptz,
    usage_stats jsonb not null default '{}'::jsonb,

    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    created_by uuid default auth.uid() references auth.users (id) on delete set null,

    constraint agent_mcp_connections_status_check
        check (connection_status in ('connected', 'disconnected', 'error', 'testing')),
    constraint check_valid_connection_config
        check (public.validate_connection_config(connection_config)),
    constraint agent_mcp_connections_test_result_is_object
        check (connection_test_result is null or jsonb_typeof(connection_test_result) = 'object'),
    constraint agent_mcp_connections_usage_stats_is_object
        check (jsonb_typeof(usage_stats) = 'object'),
    -- A disconnected (soft-deleted) connection is never testing, connected or in error.
    constraint agent_mcp_connections_inactive_is_disconnected
        check (is_active or connection_status = 'disconnected')
);

comment on table public.agent_mcp_connections is 'Stores connections between user agents and MCP servers';
comment on column public.agent_mcp_connections.agent_id is 'Reference to the agent making the connection';
comment on column public.agent_mcp_connections.mcp_server_instance_id is 'Reference to the MCP server instance';
comment on column public.agent_mcp_connections.connection_config is
    'JSON configuration for the connection (timeout, retryAttempts, customHeaders, enableLogging, maxConcurrentRequests)';
comment on column public.agent_mcp_connections.connection_test_result is
    'Result of the last connection test: {success, error, latency, capabilities, timestamp, serverInfo, protocolVersion, era, transport, tools, toolCount, attempts}';
comment on column public.agent_mcp_connections.is_active is 'Whether the connection is currently active (false: disconnected, kept as history)';
comment on column public.agent_mcp_connections.connection_status is 'Current status: disconnected -> testing -> connected | error';
comment on column public.agent_mcp_connections.last_used is 'Timestamp of last connection usage';
comment on column public.agent_mcp_connections.usage_stats is
    'JSON usage statistics {totalRequests, successfulRequests, failedRequests, averageResponseTime, totalResponseTime, lastUsed, bytesTransferred}; written by record_agent_mcp_connection_usage()';
comment on column public.agent_mcp_connections.created_by is 'The user who created the connection; set from the JWT, never changed';


-- -----------------------------------------------------------------------------
-- Section: indexes
-- -----------------------------------------------------------------------------

-- At most one active connection per (agent, server): decides concurrent connects.
create unique index if not exists agent_mcp_connections_one_active_per_pair
    on public.agent_mcp_connections (agent_id, mcp_server_instance_id)
    where is_active;

-- The draft's performance indexes.
create index if not exists idx_agent_mcp_connections_agent_id
    on public.agent_mcp_connections (agent_id);
create index if not exists idx_agent_mcp_connections_server_id
    on public.agent_mcp_connections (mcp_server_instance_id);
create index if not exists idx_agent_mcp_connections_active
    on public.agent_mcp_connections (is_active)
    where is_active;
create index if not exists idx_agent_mcp_connections_status
    on public.agent_mcp_connections (connection_status);
-- (created_at, id): the admin list pages by this key, newest first.
create index if not exists idx_agent_mcp_connections_created_at
    on public.agent_mcp_connections (created_at, id);
create index if not exists idx_agent_mcp_connections_last_used
    on public.agent_mcp_connections (last_used);
create index if not exists idx_agent_mcp_connections_agent_active
    on public.agent_mcp_connections (agent_id, is_active)
    where is_active;
create index if not exists idx_agent_mcp_connections_server_active
    on public.agent_mcp_connections (mcp_server_instance_id, is_active)
    where is_active;
-- Covers the created_by foreign key (user deletion, linter: unindexed_foreign_keys).
create index if not exists idx_agent_mcp_connections_created_by
    on public.agent_mcp_connections (created_by);


-- -----------------------------------------------------------------------------
-- Section: triggers
-- -----------------------------------------------------------------------------

-- Keeps updated_at current on every update.
create or replace function public.update_agent_mcp_connections_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.updated_at = now();
    return new;
end;
$$;

-- A trigger fires without EXECUTE; nobody calls it directly.
revoke execute on function public.update_agent_mcp_connections_updated_at()
    from public, anon, authenticated, service_role;

create or replace trigger trigger_agent_mcp_connections_updated_at
    before update on public.agent_mcp_connections
    for each row
    execute function public.update_agent_mcp_connections_updated_at();

-- A signed-in user creates connections in their own name only.
create or replace function public.agent_mcp_connections_check_creator()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if (select auth.uid()) is not null and new.created_by is distinct from (select auth.uid()) then
        raise exception 'created_by must be the calling user'
            using errcode = '42501';
    end if;
    return new;
end;
$$;

-- A trigger fires without EXECUTE; nobody calls it directly.
revoke execute on function public.agent_mcp_connections_check_creator()
    from public, anon, authenticated, service_role;

create or replace trigger trigger_agent_mcp_connections_check_creator
    before insert on public.agent_mcp_connections
    for each row
    execute function public.agent_mcp_connections_check_creator();

-- What a connection is (its agent, its server, who made it and when) never changes,
-- and a disconnected connection stays disconnected: connecting again adds a row.
create or replace function public.agent_mcp_connections_guard_update()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.id is distinct from old.id then
        raise exception 'id cannot be changed' using errcode = '23514';
    end if;
    if new.agent_id is distinct from old.agent_id then
        raise exception 'agent_id cannot be changed; connect the other agent instead'
            using errcode = '23514';
    end if;
    if new.mcp_server_instance_id is distinct from old.mcp_server_instance_id then
        raise exception 'mcp_server_instance_id cannot be changed; connect the other server instead'
            using errcode = '23514';
    end if;
    -- The one exception: deleting the creating user clears created_by through the
    -- foreign key's ON DELETE SET NULL, which runs as the table's owner.
    if new.created_by is distinct from old.created_by
        and not (
            new.created_by is null
            and current_user = (select pg_catalog.pg_get_userbyid(c.relowner)
                                from pg_catalog.pg_class as c where c.oid = tg_relid)
        ) then
        raise exception 'created_by cannot be changed' using errcode = '23514';
    end if;
    if new.created_at is distinct from old.created_at then
        raise exception 'created_at cannot be changed' using errcode = '23514';
    end if;
    if new.is_active and not old.is_active then
        raise exception 'a disconnected connection cannot be reactivated; connect again'
            using errcode = '23514';
    end if;
    return new;
end;
$$;

-- A trigger fires without EXECUTE; nobody calls it directly.
revoke execute on function public.agent_mcp_connections_guard_update()
    from public, anon, authenticated, service_role;

create or replace trigger trigger_agent_mcp_connections_guard_update
    before update on public.agent_mcp_connections
    for each row
    execute function public.agent_mcp_connections_guard_update();


-- -----------------------------------------------------------------------------
-- Section: Row Level Security
-- -----------------------------------------------------------------------------

alter table public.agent_mcp_connections enable row level security;

-- anon gets nothing; authenticated works under the policies below; service_role
-- bypasses RLS (the health check). Neither gets TRUNCATE (it ignores RLS),
-- REFERENCES or TRIGGER.
revoke all on table public.agent_mcp_connections from public, anon, authenticated, service_role;
grant select, insert, update, delete on table public.agent_mcp_connections to authenticated;
grant select, insert, update, delete on table public.agent_mcp_connections to service_role;

-- Each policy compares agent_id with the caller's agents, collected once per query
-- (an initplan): the list then uses the agent_id index instead of scanning rows.
drop policy if exists "Users can view their own agent connections" on public.agent_mcp_connections;
create policy "Users can view their own agent connections" on public.agent_mcp_connections
    for select to authenticated
    using (agent_id = any (array(
        select a.id from public.agents as a where a.user_id = (select auth.uid())
    )));

drop policy if exists "Users can create connections for their own agents" on public.agent_mcp_connections;
create policy "Users can create connections for their own agents" on public.agent_mcp_connections
    for insert to authenticated
    with check (agent_id = any (array(
        select a.id from public.agents as a where a.user_id = (select auth.uid())
    )));

drop policy if exists "Users can update their own agent connections" on public.agent_mcp_connections;
create policy "Users can update their own agent connections" on public.agent_mcp_connections
    for update to authenticated
    using (agent_id = any (array(
        select a.id from public.agents as a where a.user_id = (select auth.uid())
    )))
    with check (agent_id = any (array(
        select a.id from public.agents as a where a.user_id = (select auth.uid())
    )));

drop policy if exists "Users can delete their own agent connections" on public.agent_mcp_connections;
create policy "Users can delete their own agent connections" on public.agent_mcp_connections
    for delete to authenticated
    using (agent_id = any (array(
        select a.id from public.agents as a where a.user_id = (select auth.uid())
    )));
