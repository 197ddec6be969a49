-- =============================================================================
-- EXECUTE on the module's helper and trigger functions: nothing for anon.
--
-- Functions are executable by PUBLIC when created, and Supabase's default
-- privileges grant every new function in public to anon as well, so the earlier
-- migrations left their helpers callable by anyone through PostgREST
-- (`POST /rest/v1/rpc/validate_connection_config` with only the anon key). They
-- leak no rows, but anon is meant to get nothing from this module.
--
--   * helpers used by check constraints, policies and the usage function run with
--     the caller's rights: signed-in users and service_role keep EXECUTE;
--   * trigger functions need no EXECUTE to fire: nobody keeps it.
--
-- Idempotent: applying this file twice changes nothing the second time.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Section: helpers (check constraints, policies, usage recording)
-- -----------------------------------------------------------------------------

revoke execute on function public.jsonb_is_integer_between(jsonb, numeric, numeric) from public, anon;
revoke execute on function public.validate_custom_headers(jsonb) from public, anon;
revoke execute on function public.validate_connection_config(jsonb) from public, anon;
revoke execute on function public.usage_stat(jsonb, text) from public, anon;
revoke execute on function public.is_valid_usage_event(jsonb) from public, anon;
revoke execute on function public.probe_target_key(jsonb) from public, anon;

grant execute on function public.jsonb_is_integer_between(jsonb, numeric, numeric) to authenticated, service_role;
grant execute on function public.validate_custom_headers(jsonb) to authenticated, service_role;
grant execute on function public.validate_connection_config(jsonb) to authenticated, service_role;
grant execute on function public.usage_stat(jsonb, text) to authenticated, service_role;
grant execute on function public.is_valid_usage_event(jsonb) to authenticated, service_role;
grant execute on function public.probe_target_key(jsonb) to authenticated, service_role;


-- -----------------------------------------------------------------------------
-- Section: trigger functions (fire without EXECUTE; never called directly)
-- -----------------------------------------------------------------------------

revoke execute on function public.update_agent_mcp_connections_updated_at()
    from public, anon, authenticated, service_role;
revoke execute on function public.agent_mcp_connections_check_creator()
    from public, anon, authenticated, service_role;
revoke execute on function public.agent_mcp_connections_guard_update()
    from public, anon, authenticated, service_role;
