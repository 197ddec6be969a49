/**
 * `deno task dev`: the local stack with a demo. Starts PostgreSQL, PostgREST, the
 * edge functions and the gateway on localhost (no Docker), seeds the demo data,
 * and prints the URL, the keys, a demo user's JWT and a request to try.
 * Ctrl-C stops everything; the data stays in .stack/ for the next start.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { scheduleHealthChecks } from "./stack/health_check_scheduler.ts";
import { mintUserToken } from "./stack/keys.ts";
import { projectRootFromHere } from "./stack/project_config.ts";
import { LOCAL_DATABASE_JOBS, scheduleDatabaseJobs } from "./stack/database_jobs.ts";
import { startStack } from "./stack/stack.ts";
import { startWebConsole } from "./stack/web_console.ts";

const DEMO_USER = { id: "11111111-1111-4111-8111-111111111111", email: "demo@example.com" };
const DEMO_CONNECTION_ID = "77777777-7777-4777-8777-777777777777";

// deno-lint-ignore no-console
const say = (line = "") => console.log(line);

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    "no-watch": { type: "boolean", default: false },
    "no-health-check": { type: "boolean", default: false },
    "health-check-interval": { type: "string", default: "300" },
    "console-port": { type: "string", default: "54331" },
  },
});
const healthCheckInterval = Number(flags["health-check-interval"]);
if (!Number.isInteger(healthCheckInterval) || healthCheckInterval < 5) {
  say("--health-check-interval must be a whole number of seconds, at least 5");
  Deno.exit(2);
}

const started = performance.now();
const stack = await startStack({
  // The functions' secrets, as `supabase functions serve` reads them.
  secretsFile: join(projectRootFromHere(), "supabase", "functions", ".env"),
  logs: "terminal",
  watch: !flags["no-watch"],
  onProgress: (message) => say(`  ${message}`),
});
const scheduler = flags["no-health-check"] ? null : scheduleHealthChecks({
  url: stack.url,
  serviceRoleKey: stack.keys.serviceRoleKey,
  intervalSeconds: healthCheckInterval,
  report: (line) => say(`[scheduler] ${line}`),
});
const webConsole = startWebConsole({
  port: Number(flags["console-port"]),
  supabaseUrl: stack.url,
  publishableKey: stack.keys.publishableKey,
  outDir: await Deno.makeTempDir({ prefix: "mcp-web-console-" }),
});
// The pg_cron jobs of a project (recommendations' refresh, usage history's fold).
const databaseJobs = scheduleDatabaseJobs({
  dbUrl: stack.dbUrl,
  jobs: LOCAL_DATABASE_JOBS,
  report: (line) => say(`[scheduler] ${line}`),
});
const seconds = ((performance.now() - started) / 1000).toFixed(1);

const demoJwt = await mintUserToken({
  sub: DEMO_USER.id,
  email: DEMO_USER.email,
  expiresIn: 24 * 3600,
  issuer: `${stack.url}/auth/v1`,
});

say();
say(`agent-mcp-connections local stack is ready (${seconds} s)`);
say();
say(`         API URL: ${stack.url}`);
say(`     REST URL: ${stack.url}/rest/v1`);
say(`Functions URL: ${stack.url}/functions/v1`);
say(`         DB URL: ${stack.dbUrl}`);
say(`Demo MCP server: ${stack.demoMcpServerUrl ?? "(off)"}`);
say(`     JWT secret: ${stack.keys.jwtSecret}`);
say(`       anon key: ${stack.keys.anonKey}`);
say(`service_role key: ${stack.keys.serviceRoleKey}`);
say(`Publishable key: ${stack.keys.publishableKey}`);
say(`     Secret key: ${stack.keys.secretKey}`);
say();
say(`Demo user ${DEMO_USER.email} (${DEMO_USER.id}), JWT valid 24 h`);
say(`(no auth server runs locally: mint more with \`deno task jwt --email <email>\`):`);
say(demoJwt);
say();
say("Web console, signed in as the demo user (the token rides in the URL fragment, as a");
say("magic-link redirect's does; `deno task jwt --email admin@example.com` for the admin):");
say(`  ${webConsole.url}#access_token=${demoJwt}`);
say();
say("Try it:");
say(`  export JWT=${demoJwt}`);
say(
  `  curl -s ${stack.url}/rest/v1/agent_mcp_connections -H "apikey: ${stack.keys.anonKey}" -H "Authorization: Bearer $JWT"`,
);
say(
  `  curl -s -X POST ${stack.url}/functions/v1/mcp-connections/connections/${DEMO_CONNECTION_ID}/test -H "Authorization: Bearer $JWT"`,
);
say(
  scheduler
    ? `The health check runs every ${healthCheckInterval} s (--health-check-interval=<s>, --no-health-check).`
    : "The scheduled health check is off (--no-health-check).",
);
say();
say(`Ctrl-C stops the stack; the database is kept in ${stack.cluster.dataDir}.`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  say("\nstopping...");
  void scheduler?.stop();
  await webConsole.close();
  await databaseJobs.stop();
  await stack.stop();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
