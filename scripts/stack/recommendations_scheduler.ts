/**
 * The local stack's stand-in for the pg_cron job of
 * supabase/snippets/schedule_agent_mcp_recommendations.sql: runs
 * `refresh_agent_mcp_recommendations()` once at start and then every
 * `intervalSeconds`, over the database URL (as pg_cron runs it, inside the database,
 * as the owner). Refreshes never overlap: the next waits for the previous to end.
 */
import postgres from "postgres";

export interface RecommendationsScheduler {
  stop(): Promise<void>;
}

export function scheduleRecommendationRefresh(options: {
  dbUrl: string;
  intervalSeconds: number;
  report: (line: string) => void;
}): RecommendationsScheduler {
  const sql = postgres(options.dbUrl, { max: 1, onnotice: () => {} });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const runOnce = async () => {
    try {
      const [row] = await sql<
        [{ refreshed_servers: number; refreshed_pairs: number; duration_ms: number }]
      >`select * from public.refresh_agent_mcp_recommendations()`;
      options.report(
        `recommendations refreshed: ${row.refreshed_servers} servers, ` +
          `${row.refreshed_pairs} pairs in ${row.duration_ms} ms`,
      );
    } catch (error) {
      options.report(
        `recommendations refresh failed (${error instanceof Error ? error.message : error})`,
      );
    }
    if (!stopped) timer = setTimeout(runOnce, options.intervalSeconds * 1000);
  };
  void runOnce();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await sql.end({ timeout: 5 });
    },
  };
}
