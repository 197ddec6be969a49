-- =============================================================================
-- auth_user_exists(): whether the caller's JWT names a user that still exists.
--
-- A deleted user's access token stays valid until it expires; the API refuses
-- such tokens (401) instead of answering with empty lists. auth.users is not
-- readable by signed-in users, hence SECURITY DEFINER; it answers only about the
-- caller (auth.uid()), so exposing it is harmless. Flagged by the linter as
-- authenticated_security_definer_function_executable: intended.
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================

create or replace function public.auth_user_exists()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select exists (
        select 1
        from auth.users
        where id = (select auth.uid())
          and deleted_at is null
    );
$$;

comment on function public.auth_user_exists() is 'True when the calling user exists (and is not deleted).';

revoke execute on function public.auth_user_exists() from public, anon;
grant execute on function public.auth_user_exists() to authenticated, service_role;
