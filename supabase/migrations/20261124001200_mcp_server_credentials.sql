-- =============================================================================
-- Server credentials: what the probe presents to an MCP server that requires
-- authentication, owned by administrators (issue 15).
--
-- One row per MCP server, either
--   {"kind": "headers", "headers": {"Authorization": "Bearer …"}}
-- or
--   {"kind": "oauth_client_credentials", "clientId": …, "clientSecret": …
--    | "privateKey": …, "signingAlgorithm": …, "scope"?, "tokenEndpoint"?,
--    "authorizationServer"?, "resource"?}
-- (docs/server-credentials.md). Not `account_tool_instance_secrets`: that table
-- is the platform's, its `secret` holds whatever the platform put there, and it
-- lives in the exposed `public` schema. These rows live in their own schema that
-- no API role may even look into (no USAGE): only the SECURITY DEFINER functions
-- below reach them, and those are executable by service_role alone.
--
--   set_mcp_server_credentials(server, credentials)  add or rotate (version + 1)
--   delete_mcp_server_credentials(server)             remove
--   list_mcp_server_credentials()                     what is set, never a secret
--   mcp_server_probe_credentials(servers[])           the secrets, for the probe
--
-- The probe reads credentials only after the caller's RLS has found the
-- connection (POST /connections/:id/test) or for the health check's own targets.
-- `version` keys the probe's token cache: a rotation drops cached tokens.
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: the schema and the table
-- -----------------------------------------------------------------------------

-- Not exposed by PostgREST, and no API role holds USAGE on it.
create schema if not exists agent_mcp_secrets;
revoke all on schema agent_mcp_secrets from public, anon, authenticated, service_role;

comment on schema agent_mcp_secrets is
    'Secrets of MCP servers; reached only through service_role functions in public.';

-- Whether `credentials` is a server credential the probe can use. Rules kept in
-- step with ServerCredentials in shared/mcp/auth/server_credentials.ts; never
-- raises (false for anything malformed).
create or replace function agent_mcp_secrets.credentials_are_valid(credentials jsonb)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
    select coalesce(
        jsonb_typeof(credentials) = 'object'
        and case credentials ->> 'kind'
            when 'headers' then
                (select coalesce(bool_and(key in ('kind', 'headers')), true)
                 from jsonb_object_keys(credentials) as key)
                and public.validate_custom_headers(credentials -> 'headers')
                and (select count(*) from jsonb_object_keys(
                        case when jsonb_typeof(credentials -> 'headers') = 'object'
                             then credentials -> 'headers' end)) >= 1
            when 'oauth_client_credentials' then
                (select coalesce(bool_and(key in ('kind', 'clientId', 'clientSecret', 'privateKey',
                        'signingAlgorithm', 'scope', 'tokenEndpoint', 'authorizationServer',
                        'resource')), true)
                 from jsonb_object_keys(credentials) as key)
                and jsonb_typeof(credentials -> 'clientId') = 'string'
                and char_length(credentials ->> 'clientId') between 1 and 512
                -- exactly one way to authenticate: a secret, or a key for private_key_jwt
                and (credentials ? 'clientSecret') <> (credentials ? 'privateKey')
                and (not credentials ? 'clientSecret'
                     or (jsonb_typeof(credentials -> 'clientSecret') = 'string'
                         and char_length(credentials ->> 'clientSecret') between 1 and 4096))
                and (credentials ? 'privateKey') = (credentials ? 'signingAlgorithm')
                and (not credentials ? 'privateKey'
                     or (jsonb_typeof(credentials -> 'privateKey') = 'string'
                         and char_length(credentials ->> 'privateKey') between 1 and 16384
                         and jsonb_typeof(credentials -> 'signingAlgorithm') = 'string'
                         and credentials ->> 'signingAlgorithm' in
                             ('RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
                              'ES256', 'ES384', 'ES512', 'EdDSA')))
                and (not credentials ? 'scope'
                     or (jsonb_typeof(credentials -> 'scope') = 'string'
                         and char_length(credentials ->> 'scope') between 1 and 1024))
                and (not credentials ? 'tokenEndpoint'
                     or (jsonb_typeof(credentials -> 'tokenEndpoint') = 'string'
                         and (credentials ->> 'tokenEndpoint') ~ '^https?://[^[:space:]]+$'
                         and char_length(credentials ->> 'tokenEndpoint') <= 2048))
                and (not credentials ? 'authorizationServer'
                     or (jsonb_typeof(credentials -> 'authorizationServer') = 'string'
                         and (credentials ->> 'authorizationServer') ~ '^https?://[^[:space:]]+$'
                         and char_length(credentials ->> 'authorizationServer') <= 2048))
                and (not credentials ? 'resource'
                     or (jsonb_typeof(credentials -> 'resource') = 'string'
                         and (credentials ->> 'resource') ~ '^https?://[^[:space:]]+$'
                         and char_length(credentials ->> 'resource') <= 2048))
            else false
        end,
        false
    );
$$;

comment on function agent_mcp_secrets.credentials_are_valid(jsonb) is
    'Whether a server credential is well formed (headers, or OAuth client credentials).';

revoke execute on function agent_mcp_secrets.credentials_are_valid(jsonb)
    from public, anon, authenticated, service_role;

-- The credentials of MCP servers. RLS on and no policy, no privilege for any API
-- role: the definer functions below are the only way in.
create table if not exists agent_mcp_secrets.mcp_server_credentials (
    server_id uuid primary key
        references public.account_tool_instances (id) on delete cascade,
    credentials jsonb not null,
    -- Bumped by every change: keys the probe's token cache (a rotation drops tokens).
    version bigint not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint mcp_server_credentials_valid
        check (agent_mcp_secrets.credentials_are_valid(credentials)),
    constraint mcp_server_credentials_version_positive check (version >= 1)
);

comment on table agent_mcp_secrets.mcp_server_credentials is
    'What the probe presents to each MCP server (headers or OAuth client credentials). Secret.';

alter table agent_mcp_secrets.mcp_server_credentials enable row level security;
revoke all on table agent_mcp_secrets.mcp_server_credentials
    from public, anon, authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: administration (service_role only)
-- -----------------------------------------------------------------------------

-- Sets (or rotates) a server's credentials; returns what was stored, without it.
-- Errors: PT404 mcp_server_not_found, PT400 invalid_request (malformed credentials;
-- the message never repeats a value).
create or replace function public.set_mcp_server_credentials(
    p_server_id uuid,
    p_credentials jsonb
)
returns table (server_id uuid, kind text, version bigint, updated_at timestamptz)
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
    if not exists (select 1 from public.account_tool_instances as s where s.id = p_server_id) then
        perform agent_mcp_private.raise_error(404, 'mcp_server_not_found',
            format('MCP server %s was not found.', p_server_id));
    end if;
    if not agent_mcp_secrets.credentials_are_valid(p_credentials) then
        perform agent_mcp_private.raise_error(400, 'invalid_request',
            'The credentials are malformed: see docs/server-credentials.md for the two shapes.');
    end if;

    return query
        insert into agent_mcp_secrets.mcp_server_credentials as c (server_id, credentials)
        values (p_server_id, p_credentials)
        on conflict on constraint mcp_server_credentials_pkey do update
            set credentials = excluded.credentials,
                version = c.version + 1,
                updated_at = now()
        returning c.server_id, c.credentials ->> 'kind', c.version, c.updated_at;
end;
$$;

comment on function public.set_mcp_server_credentials(uuid, jsonb) is
    'Administrators (service_role): set or rotate an MCP server''s credentials.';

-- Removes a server's credentials; true when there were some. The probe then
-- reaches the server without any (cached tokens go with the next probe).
create or replace function public.delete_mcp_server_credentials(p_server_id uuid)
returns boolean
language sql
volatile
security definer
set search_path = ''
as $$
    with gone as (
        delete from agent_mcp_secrets.mcp_server_credentials as c
        where c.server_id = p_server_id
        returning 1
    )
    select exists (select 1 from gone);
$$;

comment on function public.delete_mcp_server_credentials(uuid) is
    'Administrators (service_role): remove an MCP server''s credentials.';

-- Which servers have credentials, of which kind and version: never a secret, nor
-- a header name.
create or replace function public.list_mcp_server_credentials()
returns table (server_id uuid, kind text, version bigint, created_at timestamptz, updated_at timestamptz)
language sql
stable
security definer
set search_path = ''
as $$
    select c.server_id, c.credentials ->> 'kind', c.version, c.created_at, c.updated_at
    from agent_mcp_secrets.mcp_server_credentials as c
    order by c.server_id;
$$;

comment on function public.list_mcp_server_credentials() is
    'Administrators (service_role): which MCP servers have credentials (kind, version), no secrets.';


-- -----------------------------------------------------------------------------
-- Section: the probe's read (service_role only)
-- -----------------------------------------------------------------------------

-- The credentials of the given servers, secrets included. Called by the functions
-- with the service role: for POST /connections/:id/test only after the caller's
-- RLS found the connection (begin_agent_mcp_connection_test), and by the health
-- check for the servers of the batch it claimed.
create or replace function public.mcp_server_probe_credentials(p_server_ids uuid[])
returns table (server_id uuid, version bigint, credentials jsonb)
language sql
stable
security definer
set search_path = ''
as $$
    select c.server_id, c.version, c.credentials
    from agent_mcp_secrets.mcp_server_credentials as c
    where c.server_id = any (p_server_ids);
$$;

comment on function public.mcp_server_probe_credentials(uuid[]) is
    'The probe''s read of MCP server credentials (service_role only; secrets included).';


-- -----------------------------------------------------------------------------
-- Section: grants
-- -----------------------------------------------------------------------------

revoke execute on function public.set_mcp_server_credentials(uuid, jsonb) from public, anon, authenticated;
revoke execute on function public.delete_mcp_server_credentials(uuid) from public, anon, authenticated;
revoke execute on function public.list_mcp_server_credentials() from public, anon, authenticated;
revoke execute on function public.mcp_server_probe_credentials(uuid[]) from public, anon, authenticated;
grant execute on function public.set_mcp_server_credentials(uuid, jsonb) to service_role;
grant execute on function public.delete_mcp_server_credentials(uuid) to service_role;
grant execute on function public.list_mcp_server_credentials() to service_role;
grant execute on function public.mcp_server_probe_credentials(uuid[]) to service_role;
