-- =============================================================================
-- What a Supabase project's database has before any migration of ours runs:
-- the API roles, the auth schema with auth.users and the JWT helpers, the
-- extensions schema, and usage on the public schema (with no default
-- privileges for the API roles, as on a project created today).
-- The local stack applies this once, to a new cluster; migrations then run on
-- top exactly as `supabase db push` runs them on a hosted project.
--
-- Matches the behaviour of supabase/postgres (roles.sql, auth-schema.sql,
-- default privileges); only what this module relies on is recreated.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: roles
-- -----------------------------------------------------------------------------

-- Requests without a JWT (or with the anon key).
create role anon nologin noinherit;
-- Requests carrying a signed-in user's JWT.
create role authenticated nologin noinherit;
-- Trusted server-side code; bypasses RLS as on Supabase.
create role service_role nologin noinherit bypassrls;
-- PostgREST logs in as authenticator and switches to the JWT's role.
create role authenticator login noinherit;
grant anon, authenticated, service_role to authenticator;

-- PostgREST's schema cache and the API roles see the same objects as on Supabase.
alter role authenticator set statement_timeout = '8s';
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';


-- -----------------------------------------------------------------------------
-- Section: schemas and default privileges
-- -----------------------------------------------------------------------------

create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;
-- Extensions (pgtap, pg_net, ...) live in `extensions`, which is on the path as on Supabase.
alter database postgres set search_path to "$user", public, extensions;

grant usage on schema public to anon, authenticated, service_role;

-- As on a Supabase project created today (default since 2026-05-30, applied to
-- every project on 2026-10-30): NO default privileges for the API roles. A new
-- table, view, sequence or function in public is reachable by anon,
-- authenticated or service_role only through an explicit grant in its
-- migration. (PostgreSQL's own default stays: EXECUTE on new functions for
-- PUBLIC, which migrations revoke where callers must not run a function.)


-- -----------------------------------------------------------------------------
-- Section: auth schema
-- -----------------------------------------------------------------------------

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

-- The columns of GoTrue's auth.users that applications and seeds commonly use.
create table auth.users (
    instance_id uuid,
    id uuid primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    raw_app_meta_data jsonb default '{}'::jsonb,
    raw_user_meta_data jsonb default '{}'::jsonb,
    is_super_admin boolean,
    is_anonymous boolean not null default false,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    last_sign_in_at timestamptz,
    deleted_at timestamptz
);
create unique index users_email_partial_key on auth.users (email) where not is_anonymous;

grant all on table auth.users to service_role;

-- The JWT claims of the current request, as PostgREST sets them.
create function auth.jwt()
returns jsonb
language sql
stable
set search_path = ''
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb;
$$;

-- The caller's user id (the JWT's sub), or null.
create function auth.uid()
returns uuid
language sql
stable
set search_path = ''
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid;
$$;

-- The caller's role claim (anon, authenticated, service_role), or null.
create function auth.role()
returns text
language sql
stable
set search_path = ''
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text;
$$;

-- The caller's email claim, or null.
create function auth.email()
returns text
language sql
stable
set search_path = ''
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
    )::text;
$$;

grant execute on function auth.jwt(), auth.uid(), auth.role(), auth.email()
    to anon, authenticated, service_role;

