-- =============================================================================
-- Schedules the refresh of the connection recommendations on a Supabase project:
-- pg_cron runs refresh_agent_mcp_recommendations() every 15 minutes, inside the
-- database (no HTTP call, no secret needed). Run it once, in the SQL editor or
-- with psql; running it again updates the schedule.
--
-- Before: enable pg_cron (Dashboard > Database > Extensions) and push the
-- migrations (`supabase db push`).
--
-- The refresh recomputes the per-server aggregates, recounts the pairs only for
-- users whose agents changed, and writes only what changed; at 1M connections it
-- costs about 8-12 s of one core (the first one about 20 s; docs/recommendations.md),
-- so every 15 minutes leaves the database idle most of the time. Recommendations are as old
-- as the last refresh; a new deployment has none until the first one runs.
--
-- To run it now: select * from public.refresh_agent_mcp_recommendations();
-- To stop:       select cron.unschedule('agent-mcp-recommendations-refresh');
-- Runs are logged in cron.job_run_details.
-- =============================================================================

select cron.schedule(
    'agent-mcp-recommendations-refresh',
    '*/15 * * * *',
    $$ select public.refresh_agent_mcp_recommendations(); $$
);
