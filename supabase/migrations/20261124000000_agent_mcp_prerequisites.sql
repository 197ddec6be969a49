-- =============================================================================
-- Prerequisites of agent_mcp_connections: agents, account_tool_instances (the MCP
-- servers administrators deployed), their secrets, user_roles and is_admin().
--
-- A platform that already has these tables keeps them as they are, with their
-- data and their own policies: every table here is created only when missing.
-- Where an existing table lacks a column this module reads, the column is added
-- (nullable). Policies are created only on tables that have none yet, so an
-- existing table's security is never loosened nor doubled.
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: agents
-- -----------------------------------------------------------------------------

-- An agent belongs to one user; connections hang off agents.
create table if not exists public.agents (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    name text not null,
    description text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint agents_name_length check (char_length(name) between 1 and 200)
);

comment on table public.agents is 'AI agents; each belongs to one user.';

-- The connection policies look agents up by owner on every query.
create index if not exists agents_user_id_idx on public.agents (user_id);


-- -----------------------------------------------------------------------------
-- Section: account_tool_instances (MCP servers)
-- -----------------------------------------------------------------------------

-- MCP servers administrators deployed; users read the list and connect agents to them.
create table if not exists public.account_tool_instances (
    id uuid primary key default gen_random_uuid(),
    instance_name_on_toolbox text not null,
    status_on_toolbox text not null default 'running',
    mcp_server_url text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint account_tool_instances_name_length
        check (char_length(instance_name_on_toolbox) between 1 and 200),
    constraint account_tool_instances_status_check
        check (status_on_toolbox in ('pending', 'starting', 'running', 'stopped', 'error')),
    constraint account_tool_instances_url_check
        check (mcp_server_url ~ '^https?://[^[:space:]]+$' and char_length(mcp_server_url) <= 2048)
);

-- An existing platform table may predate MCP endpoints.
alter table public.account_tool_instances add column if not exists mcp_server_url text;

comment on table public.account_tool_instances is
    'MCP servers deployed by administrators. Readable by signed-in users; secrets live apart.';
comment on column public.account_tool_instances.mcp_server_url is
    'The MCP endpoint (Streamable HTTP, or the legacy SSE endpoint) the probe connects to.';

-- Credentials the platform holds for a server. Only service_role reads them: the
-- table has RLS enabled, no policies, and no grants to anon or authenticated.
-- service_role gets the four data privileges (no TRUNCATE, REFERENCES, TRIGGER).
create table if not exists public.account_tool_instance_secrets (
    instance_id uuid primary key
        references public.account_tool_instances (id) on delete cascade,
    secret jsonb not null default '{}'::jsonb,
    updated_at timestamptz not null default now(),
    constraint account_tool_instance_secrets_is_object check (jsonb_typeof(secret) = 'object')
);

comment on table public.account_tool_instance_secrets is
    'Secrets of MCP servers (tokens, credentials). service_role only.';

alter table public.account_tool_instance_secrets enable row level security;
revoke all on table public.account_tool_instance_secrets from public, anon, authenticated, service_role;
grant select, insert, update, delete on table public.account_tool_instance_secrets to service_role;


-- -----------------------------------------------------------------------------
-- Section: user_roles and is_admin()
-- -----------------------------------------------------------------------------

-- Platform roles of a user; 'admin' may read every connection (through the admin functions).
create table if not exists public.user_roles (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    role text not null,
    created_at timestamptz not null default now(),
    constraint user_roles_user_role_unique unique (user_id, role)
);

comment on table public.user_roles is 'Roles of users; role = ''admin'' grants admin read access.';

-- Whether the caller holds the 'admin' role. SECURITY DEFINER so that policies and
-- functions need neither read access to user_roles nor pay for its own RLS; it
-- only ever answers about the caller (auth.uid()), so exposing it is harmless.
-- Flagged by the linter as authenticated_security_definer_function_executable:
-- intended, it checks the caller itself.
create or replace function public.is_admin()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select exists (
        select 1
        from public.user_roles
        where user_id = (select auth.uid())
          and role = 'admin'
    );
$$;

comment on function public.is_admin() is 'True when the calling user has the admin role.';

revoke execute on function public.is_admin() from public, anon;
grant execute on function public.is_admin() to authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: Row Level Security of the prerequisite tables
-- -----------------------------------------------------------------------------

-- Only on tables that have no policy yet: a platform's own policies and grants stay
-- untouched. A table this block secures is the module's to grant: authenticated
-- works under the policies, service_role (bypassing RLS) manages the rows; anon
-- gets nothing. No TRUNCATE (it ignores RLS), REFERENCES or TRIGGER for API roles.
do $$
begin
    if not exists (select 1 from pg_policies where schemaname = 'public' and tablename = 'agents') then
        alter table public.agents enable row level security;
        revoke all on table public.agents from public, anon, authenticated, service_role;
        grant select, insert, update, delete on table public.agents to authenticated, service_role;

        create policy "Users can view their own agents" on public.agents
            for select to authenticated
            using (user_id = (select auth.uid()));
        create policy "Users can create their own agents" on public.agents
            for insert to authenticated
            with check (user_id = (select auth.uid()));
        create policy "Users can update their own agents" on public.agents
            for update to authenticated
            using (user_id = (select auth.uid()))
            with check (user_id = (select auth.uid()));
        create policy "Users can delete their own agents" on public.agents
            for delete to authenticated
            using (user_id = (select auth.uid()));
    end if;

    if not exists (
        select 1 from pg_policies where schemaname = 'public' and tablename = 'account_tool_instances'
    ) then
        alter table public.account_tool_instances enable row level security;
        revoke all on table public.account_tool_instances from public, anon, authenticated, service_role;
        grant select, insert, update, delete on table public.account_tool_instances
            to authenticated, service_role;

        create policy "Signed-in users can view MCP servers" on public.account_tool_instances
            for select to authenticated
            using (true);
        create policy "Admins can add MCP servers" on public.account_tool_instances
            for insert to authenticated
            with check ((select public.is_admin()));
        create policy "Admins can update MCP servers" on public.account_tool_instances
            for update to authenticated
            using ((select public.is_admin()))
            with check ((select public.is_admin()));
        create policy "Admins can remove MCP servers" on public.account_tool_instances
            for delete to authenticated
            using ((select public.is_admin()));
    end if;

    if not exists (select 1 from pg_policies where schemaname = 'public' and tablename = 'user_roles') then
        alter table public.user_roles enable row level security;
        -- Roles are granted by service_role (or a migration), never by users themselves.
        revoke all on table public.user_roles from public, anon, authenticated, service_role;
        grant select on table public.user_roles to authenticated;
        grant select, insert, update, delete on table public.user_roles to service_role;

        create policy "Users can view their own roles" on public.user_roles
            for select to authenticated
            using (user_id = (select auth.uid()));
    end if;
end;
$$;

-- Whatever the platform's own grants: the health check (service_role) reads the
-- servers' URLs and the agents' owners (mcp_health_check_targets() runs with the
-- caller's rights and keys each target by its owner). Adds nothing for users;
-- service_role bypasses RLS anyway.
grant select on table public.account_tool_instances to service_role;
grant select on table public.agents to service_role;
