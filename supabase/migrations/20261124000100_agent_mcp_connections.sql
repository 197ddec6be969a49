-- =============================================================================
-- agent_mcp_connections: which agent is connected to which MCP server, with the
-- connection's config, last test result, status and usage statistics.
--
-- Follows the research draft's columns, JSON shapes, indexes, trigger and
-- policies, with its defects fixed (docs/security.md):
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
-- Section: the private schema and the module's coded errors
-- -----------------------------------------------------------------------------

-- Helpers that PostgREST must not expose (it serves `public` only): the SECURITY
-- DEFINER writers of system-maintained columns, trigger functions, settings.
-- Signed-in users and service_role may use what is in it from SQL (the public
-- functions and triggers call it as them), never through the API.
create schema if not exists agent_mcp_private;
revoke all on schema agent_mcp_private from public, anon;
grant usage on schema agent_mcp_private to authenticated, service_role;

comment on schema agent_mcp_private is
    'agent-mcp-connections internals: not exposed by PostgREST; called by the public functions and triggers.';

-- Raises the module's one kind of domain error, the contract every operation follows:
--   SQLSTATE  PT<status>: PostgREST answers with that HTTP status (404, 409, ...)
--   MESSAGE   for a person
--   DETAIL    JSON {"code": <the API error code>, ...more details}, e.g.
--             {"code": "already_connected", "connectionId": "..."}
-- The codes are those of shared/errors/app_error.ts; shared/db/postgrest_errors.ts
-- maps them to the API's errors in one table.
create or replace function agent_mcp_private.raise_error(
    p_status integer,
    p_code text,
    p_message text,
    p_details jsonb default '{}'::jsonb
)
returns void
language plpgsql
volatile -- never immutable: the planner would fold (and raise) constant calls early
set search_path = ''
as $$
begin
    raise exception using
        errcode = 'PT' || p_status::text,
        message = p_message,
        detail = (jsonb_build_object('code', p_code) || coalesce(p_details, '{}'::jsonb))::text;
end;
$$;

comment on function agent_mcp_private.raise_error(integer, text, text, jsonb) is
    'Raises a coded domain error: SQLSTATE PT<status>, DETAIL {"code": ..., ...}.';

revoke execute on function agent_mcp_private.raise_error(integer, text, text, jsonb) from public, anon;
grant execute on function agent_mcp_private.raise_error(integer, text, text, jsonb) to authenticated, service_role;

-- Whether an MCP server with this status_on_toolbox takes connections, tests and
-- health checks: only a running one (not pending, starting, stopped or error).
create or replace function agent_mcp_private.mcp_server_is_running(status text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
    select coalesce(status = 'running', false);
$$;

comment on function agent_mcp_private.mcp_server_is_running(text) is
    'True for the status_on_toolbox of a server that may be connected, tested and health-checked.';

revoke execute on function agent_mcp_private.mcp_server_is_running(text) from public, anon;
grant execute on function agent_mcp_private.mcp_server_is_running(text) to authenticated, service_role;

-- The per-user limits, in one place (change them with CREATE OR REPLACE):
--   connections_per_user           active connections over all of a user's agents
--   connections_per_agent          active connections of one agent
--   header_configs_per_server      distinct customHeaders among one user's active
--                                  connections to one server (a user with many
--                                  agents may not try many credentials on a server)
-- Unknown names raise (a typo must not mean "no limit").
create or replace function agent_mcp_private.connection_limit(p_name text)
returns integer
language plpgsql
immutable
set search_path = ''
as $$
begin
    case p_name
        when 'connections_per_user' then return 500;
        when 'connections_per_agent' then return 50;
        when 'header_configs_per_server' then return 20;
        else raise exception 'unknown connection limit %', p_name using errcode = '22023';
    end case;
end;
$$;

comment on function agent_mcp_private.connection_limit(text) is
    'The per-user connection limits (connections per user, per agent, header configs per server).';

revoke execute on function agent_mcp_private.connection_limit(text) from public, anon;
grant execute on function agent_mcp_private.connection_limit(text) to authenticated, service_role;


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
-- Section: bounds of the system-maintained JSON columns
-- -----------------------------------------------------------------------------

-- Whether a usage_stats value is what record_agent_mcp_connection_usage() writes:
-- an object with only these keys,
--   totalRequests, successfulRequests, failedRequests, bytesTransferred
--                                     integers, 0 .. 10^21
--   totalResponseTime, averageResponseTime
--                                     numbers, 0 .. 10^21
--   lastUsed                          a string of at most 64 characters
-- so counters are never negative (no division by zero) and the value stays a few
-- hundred bytes. Never raises.
create or replace function agent_mcp_private.is_valid_usage_stats(stats jsonb)
returns boolean
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
declare
    stat_name text;
    stat_value jsonb;
begin
    if stats is null or jsonb_typeof(stats) <> 'object' then
        return false;
    end if;
    for stat_name, stat_value in select key, value from jsonb_each(stats) loop
        case
            when stat_name in ('totalRequests', 'successfulRequests', 'failedRequests', 'bytesTransferred') then
                if not public.jsonb_is_integer_between(stat_value, 0, 1e21) then
                    return false;
                end if;
            when stat_name in ('totalResponseTime', 'averageResponseTime') then
                if jsonb_typeof(stat_value) <> 'number' then
                    return false;
                end if;
                if stat_value::numeric not between 0 and 1e21 then
                    return false;
                end if;
            when stat_name = 'lastUsed' then
                if jsonb_typeof(stat_value) <> 'string' or char_length(stat_value #>> '{}') > 64 then
                    return false;
                end if;
            else
                return false;
        end case;
    end loop;
    return true;
end;
$$;

comment on function agent_mcp_private.is_valid_usage_stats(jsonb) is
    'True when usage_stats has only the known keys, non-negative counters and a short lastUsed.';

revoke execute on function agent_mcp_private.is_valid_usage_stats(jsonb) from public, anon;
grant execute on function agent_mcp_private.is_valid_usage_stats(jsonb) to authenticated, service_role;

-- The largest connection_test_result stored, in bytes of its JSONB value. The probe
-- keeps a result's JSON text within 64 KiB (RESULT_BOUNDS in shared/schemas/
-- test_result.ts); jsonb's binary form adds a header to every value, so the stored
-- bound leaves room above that: 96 KiB. It keeps a hostile writer from storing more.
create or replace function agent_mcp_private.max_test_result_bytes()
returns integer
language sql
immutable
parallel safe
set search_path = ''
as $$
    select 98304;
$$;

revoke execute on function agent_mcp_private.max_test_result_bytes() from public, anon;
grant execute on function agent_mcp_private.max_test_result_bytes() to authenticated, service_role;


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
    -- pg_column_size() of a value being written is its uncompressed size.
    constraint agent_mcp_connections_test_result_size
        check (pg_column_size(connection_test_result) <= agent_mcp_private.max_test_result_bytes()),
    constraint agent_mcp_connections_usage_stats_is_object
        check (jsonb_typeof(usage_stats) = 'object'),
    constraint agent_mcp_connections_usage_stats_valid
        check (agent_mcp_private.is_valid_usage_stats(usage_stats)),
    -- A disconnected (soft-deleted) connection is never testing, connected or in error.
    constraint agent_mcp_connections_inactive_is_disconnected
        check (is_active or connection_status = 'disconnected')
);

-- A table created by an earlier draft of this migration gets the bounds too.
do $$
begin
    if not exists (select 1 from pg_constraint
                   where conrelid = 'public.agent_mcp_connections'::regclass
                     and conname = 'agent_mcp_connections_test_result_size') then
        alter table public.agent_mcp_connections add constraint agent_mcp_connections_test_result_size
            check (pg_column_size(connection_test_result) <= agent_mcp_private.max_test_result_bytes());
    end if;
    if not exists (select 1 from pg_constraint
                   where conrelid = 'public.agent_mcp_connections'::regclass
                     and conname = 'agent_mcp_connections_usage_stats_valid') then
        alter table public.agent_mcp_connections add constraint agent_mcp_connections_usage_stats_valid
            check (agent_mcp_private.is_valid_usage_stats(usage_stats));
    end if;
end;
$$;

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

-- The draft's indexes that queries use. Left out on purpose (a lean schema, and
-- usage recording stays a HOT update: no index covers a column it writes):
--   (is_active) where is_active          a constant key: no query is helped by it
--   (agent_id, is_active) where is_active
--                                        the unique index above leads with agent_id
--                                        over the same rows
--   (last_used)                          written by every usage event; nothing sorts
--                                        or filters by it
drop index if exists public.idx_agent_mcp_connections_active;
drop index if exists public.idx_agent_mcp_connections_agent_active;
drop index if exists public.idx_agent_mcp_connections_last_used;

-- Every connection of an agent (the policy's agent_id = any(...) and the agent filter).
create index if not exists idx_agent_mcp_connections_agent_id
    on public.agent_mcp_connections (agent_id);
-- Covers the server foreign key (deleting a server).
create index if not exists idx_agent_mcp_connections_server_id
    on public.agent_mcp_connections (mcp_server_instance_id);
create index if not exists idx_agent_mcp_connections_status
    on public.agent_mcp_connections (connection_status);
-- (created_at, id): the admin list pages by this key, newest first.
create index if not exists idx_agent_mcp_connections_created_at
    on public.agent_mcp_connections (created_at, id);
-- Active connections of a server: the health check's targets.
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
    -- What a user may change is frozen once disconnected (results of a test that
    -- was running still land: the module's functions write those).
    if not old.is_active and new.connection_config is distinct from old.connection_config then
        perform agent_mcp_private.raise_error(409, 'connection_inactive',
            format('Connection %s is disconnected; connect the agent again to use it.', old.id));
    end if;
    -- The status rule every writer shares: a disconnected connection is 'disconnected'
    -- (so a user disconnects by setting is_active = false alone, and a test or health
    -- check that ends after a disconnect cannot revive the status).
    if not new.is_active then
        new.connection_status = 'disconnected';
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

-- The rules of a new connection and of a changed config, for every writer (the
-- connect function and a direct insert through the API alike):
--   * the server exists (404 mcp_server_not_found) and is running (409
--     mcp_server_not_running);
--   * the agent has no active connection to the server (409 already_connected,
--     with its id);
--   * the per-user limits of agent_mcp_private.connection_limit() hold (409
--     connection_limit_reached).
-- Concurrency: the checks run under a transaction-level advisory lock on the
-- agent's owner, so one user's connects and config changes are counted one at a
-- time (the partial unique index stays the last word on duplicates). An agent the
-- caller cannot see is left to the insert policy, which refuses it. Runs with the
-- caller's rights: they count what RLS lets them see, which is all of their own.
create or replace function agent_mcp_private.check_connection_write()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
    agent_owner uuid;
    server_status text;
    existing_id uuid;
    headers jsonb := coalesce(new.connection_config -> 'customHeaders', '{}'::jsonb);
    counted integer;
    max_allowed integer;
begin
    if not new.is_active
        or (tg_op = 'UPDATE' and new.connection_config is not distinct from old.connection_config) then
        return new;
    end if;

    -- A row that exists already is left to the insert's ON CONFLICT (a seed applied
    -- twice); an agent the caller cannot see, to the insert policy.
    if tg_op = 'INSERT' and exists (select 1 from public.agent_mcp_connections as c where c.id = new.id) then
        return new;
    end if;
    select a.user_id into agent_owner from public.agents as a where a.id = new.agent_id;
    if not found then
        return new;
    end if;

    if tg_op = 'INSERT' then
        select s.status_on_toolbox into server_status
        from public.account_tool_instances as s
        where s.id = new.mcp_server_instance_id;
        if not found then
            perform agent_mcp_private.raise_error(404, 'mcp_server_not_found',
                format('MCP server %s was not found.', new.mcp_server_instance_id));
        end if;
        if not agent_mcp_private.mcp_server_is_running(server_status) then
            perform agent_mcp_private.raise_error(409, 'mcp_server_not_running',
                format('MCP server %s is %s, not running; connect to it once it runs.',
                       new.mcp_server_instance_id, server_status),
                jsonb_build_object('serverStatus', server_status));
        end if;
    end if;

    -- One user's connects and config changes, one at a time until commit.
    perform pg_advisory_xact_lock(hashtextextended('agent_mcp_connections:' || agent_owner::text, 0));

    if tg_op = 'INSERT' then
        select c.id into existing_id
        from public.agent_mcp_connections as c
        where c.agent_id = new.agent_id
          and c.mcp_server_instance_id = new.mcp_server_instance_id
          and c.is_active;
        if found then
            perform agent_mcp_private.raise_error(409, 'already_connected',
                'This agent already has an active connection to this MCP server.',
                jsonb_build_object('connectionId', existing_id));
        end if;

        max_allowed := agent_mcp_private.connection_limit('connections_per_agent');
        select count(*) into counted
        from public.agent_mcp_connections as c
        where c.agent_id = new.agent_id and c.is_active;
        if counted >= max_allowed then
            perform agent_mcp_private.raise_error(409, 'connection_limit_reached',
                format('An agent may have at most %s active connections.', max_allowed),
                jsonb_build_object('limit', 'connections_per_agent', 'max', max_allowed));
        end if;

        max_allowed := agent_mcp_private.connection_limit('connections_per_user');
        select count(*) into counted
        from public.agent_mcp_connections as c
        join public.agents as a on a.id = c.agent_id
        where a.user_id = agent_owner and c.is_active;
        if counted >= max_allowed then
            perform agent_mcp_private.raise_error(409, 'connection_limit_reached',
                format('A user may have at most %s active connections.', max_allowed),
                jsonb_build_object('limit', 'connections_per_user', 'max', max_allowed));
        end if;
    end if;

    -- Distinct customHeaders among the owner's active connections to this server,
    -- this one included: a new config counts once, a config already in use is free.
    max_allowed := agent_mcp_private.connection_limit('header_configs_per_server');
    select count(distinct coalesce(c.connection_config -> 'customHeaders', '{}'::jsonb))
    into counted
    from public.agent_mcp_connections as c
    join public.agents as a on a.id = c.agent_id
    where a.user_id = agent_owner
      and c.mcp_server_instance_id = new.mcp_server_instance_id
      and c.is_active
      and c.id <> new.id
      and coalesce(c.connection_config -> 'customHeaders', '{}'::jsonb) <> headers;
    if counted >= max_allowed then
        perform agent_mcp_private.raise_error(409, 'connection_limit_reached',
            format('A user may use at most %s distinct customHeaders configs with one MCP server.',
                   max_allowed),
            jsonb_build_object('limit', 'header_configs_per_server', 'max', max_allowed));
    end if;
    return new;
end;
$$;

create or replace trigger trigger_agent_mcp_connections_check_write
    before insert or update of connection_config on public.agent_mcp_connections
    for each row
    execute function agent_mcp_private.check_connection_write();

revoke execute on function agent_mcp_private.check_connection_write()
    from public, anon, authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: Row Level Security
-- -----------------------------------------------------------------------------

alter table public.agent_mcp_connections enable row level security;

-- anon gets nothing. authenticated works under the policies below and writes only
-- what a user owns by intent, column by column:
--   insert  agent_id, mcp_server_instance_id, connection_config (a connect)
--   update  connection_config, and is_active (to disconnect; the guard trigger
--           refuses the way back and sets the status)
-- Status, test result, usage and last use are written only by the module's
-- functions (their SECURITY DEFINER writers in agent_mcp_private) and by
-- service_role (the health check), which bypasses RLS. Nobody gets TRUNCATE (it
-- ignores RLS), REFERENCES or TRIGGER. Revoking the table privileges revokes the
-- column privileges too, so this is idempotent.
revoke all on table public.agent_mcp_connections from public, anon, authenticated, service_role;
grant select, delete on table public.agent_mcp_connections to authenticated;
grant insert (agent_id, mcp_server_instance_id, connection_config)
    on table public.agent_mcp_connections to authenticated;
grant update (connection_config, is_active) on table public.agent_mcp_connections to authenticated;
grant select, insert, update, delete on table public.agent_mcp_connections to service_role;

-- Each policy compares agent_id with the caller's agents, collected once per query
-- (an initplan): the list then uses the agent_id index instead of scanning rows.
-- Migration *_agent_mcp_connection_owner.sql replaces them with the same test on
-- the row's owner_id (one index range for a user's list, however long).
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
