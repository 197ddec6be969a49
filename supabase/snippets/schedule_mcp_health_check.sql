-- =============================================================================
-- Schedules the mcp-health-check function on a Supabase project: pg_cron calls it
-- every 5 minutes through pg_net, with the project URL and a service key read from
-- Vault (never written into the job itself). Run it once, in the SQL editor or
-- with psql; running it again updates the schedule.
--
-- One call per cycle is enough: the call starts the cycle, cuts it into batches
-- and starts further invocations of the function itself (POST {runId}, its
-- `parallelism` option, 8 by default), each of which probes one batch and starts
-- the next while batches are left. A call while a cycle is still live is refused
-- (409); the next call after a cycle whose invocations died resumes it.
-- Progress: select * from mcp_health_check_runs order by started_at desc limit 5;
--
-- Before: enable pg_cron and pg_net (Dashboard > Database > Extensions), deploy
-- the function (`supabase functions deploy mcp-health-check`), and store the two
-- secrets once:
--
--   select vault.create_secret('https://<project-ref>.supabase.co', 'project_url');
--   select vault.create_secret('<service role key or sb_secret_ key>', 'mcp_health_check_key');
--
-- To stop: select cron.unschedule('mcp-health-check');
-- Each call's response lands in net._http_response (pg_net keeps it for a while).
-- =============================================================================

select cron.schedule(
    'mcp-health-check',
    '*/5 * * * *',
    $$
    select net.http_post(
        url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
               || '/functions/v1/mcp-health-check',
        headers := jsonb_build_object(
            'Content-Type', 'application/json',
            'apikey', (select decrypted_secret from vault.decrypted_secrets where name = 'mcp_health_check_key'),
            'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                                           where name = 'mcp_health_check_key')
        ),
        body := '{}'::jsonb,
        timeout_milliseconds := 150000
    );
    $$
);
