/**
 * The local stack's stand-in for the pg_cron jobs a project schedules in SQL (the
 * health check's HTTP call has its own scheduler, health_check_scheduler.ts): each job
 * runs its statement over the database URL (as pg_cron runs it, inside the database,
 * as the owner) once at start and then every `intervalSeconds`. A job never overlaps
 * itself: the next run waits for the previous one to end.
 */
import postgres from "postgres";

export interface DatabaseJob {
  name: string;
  /** The statement pg_cron would run (one row back, which `describe` reports). */
  statement: string;
  intervalSeconds: number;
  describe: (row: Record<string, unknown>) => string;
}

/** The jobs of supabase/snippets/ and docs/usage-history.md, at the local stack's pace. */
export const LOCAL_DATABASE_JOBS: DatabaseJob[] = [
  {
    // supabase/snippets/schedule_agent_mcp_recommendations.sql: every 15 minutes.
    name: "recommendations refresh",
    statement: "select * from public.refresh_agent_mcp_recommendations()",
    intervalSeconds: 900,
    describe: (row) =>
      `${row.refreshed_servers} servers, ${row.refreshed_pairs} pairs in ${row.duration_ms} ms`,
  },
  {
    // Daily on Supabase; hourly here, so a long-running dev stack folds in good time.
    name: "usage history fold",
    statement: "select public.fold_agent_mcp_usage_buckets() as folded",
    intervalSeconds: 3600,
    describe: (row) => `${row.folded} hourly bucket(s) past the window deleted (days kept)`,
  },
];

export interface DatabaseJobs {
  stop(): Promise<void>;
}

export function scheduleDatabaseJobs(options: {
  dbUrl: string;
  jobs: DatabaseJob[];
  report: (line: string) => void;
}): DatabaseJobs {
  const sql = postgres(options.dbUrl, { max: options.jobs.length, onnotice: () => {} });
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let stopped = false;
  const runs: Promise<void>[] = [];
  for (const job of options.jobs) {
    const runOnce = async () => {
      try {
        const [row] = await sql.unsafe(job.statement);
        options.report(`${job.name}: ${job.describe(row ?? {})}`);
      } catch (error) {
        options.report(`${job.name} failed (${error instanceof Error ? error.message : error})`);
      }
      if (stopped) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        runs.push(runOnce());
      }, job.intervalSeconds * 1000);
      timers.add(timer);
    };
    runs.push(runOnce());
  }
  return {
    stop: async () => {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      await Promise.allSettled(runs);
      await sql.end({ timeout: 5 });
    },
  };
}
