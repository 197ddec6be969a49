/**
 * The local stack's stand-in for pg_cron + pg_net: every `intervalSeconds` it makes
 * the same HTTP call the deployed schedule makes (POST /functions/v1/mcp-health-check
 * with the service role key) and reports the summary. As on Supabase, that one call
 * starts a cycle and the function fans out itself (it calls itself with the cycle's
 * `runId` while batches are left), so the scheduler does nothing more. A cycle still
 * live when the next call is due is not doubled: the call is refused (409); a cycle
 * whose invocations died is resumed by the next call.
 */
export interface HealthCheckScheduler {
  /** Makes no more calls; resolves once the call in flight, if any, has been reported. */
  stop(): Promise<void>;
}

export function scheduleHealthChecks(options: {
  url: string;
  serviceRoleKey: string;
  intervalSeconds: number;
  report: (line: string) => void;
}): HealthCheckScheduler {
  const endpoint = `${options.url}/functions/v1/mcp-health-check`;
  const runOnce = async () => {
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: {
          authorization: `Bearer ${options.serviceRoleKey}`,
          "content-type": "application/json",
        },
        body: "{}",
      });
      const body = await response.text();
      options.report(`health check: ${response.status} ${body}`);
    } catch (error) {
      options.report(
        `health check: not reachable (${error instanceof Error ? error.message : error})`,
      );
    }
  };
  const inFlight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const call = runOnce().finally(() => inFlight.delete(call));
    inFlight.add(call);
  }, options.intervalSeconds * 1000);
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inFlight);
    },
  };
}
