/**
 * One start of a function taken apart (bench/cold_start/breakdown.ts runs it with the worker's
 * flags and environment): it loads the function's dependencies one at a time, in the order the
 * graph needs them, then the project's modules, then runs the function's start (environment,
 * JWT verifier, app) and its first request in process. Each step's wall and CPU time (all
 * threads) goes to stdout as one JSON object. A package's step is what it adds to the packages
 * before it. The first step is the runtime's own start, to the first line of this module.
 *
 * Run with the functions' import map.
 *
 * Args: the function's name (mcp-connections | mcp-health-check).
 */
// From the spawn (the parent's clock, BREAKDOWN_SPAWNED_AT) to this module's first line.
const bootMs = Date.now() - Number(Deno.env.get("BREAKDOWN_SPAWNED_AT"));
const { cpuUsage } = await import("node:process");
const cpuMs = () => {
  const { user, system } = cpuUsage();
  return (user + system) / 1000;
};
/** `atStart: false`: work the start does not do (shown for its size). */
const steps: { step: string; wallMs: number; cpuMs: number; atStart: boolean }[] = [
  {
    step: "runtime start: spawn to the first line of the module",
    wallMs: bootMs,
    cpuMs: cpuMs(),
    atStart: true,
  },
];
async function step(name: string, work: () => unknown, atStart = true): Promise<void> {
  const wall = performance.now();
  const cpu = cpuMs();
  await work();
  steps.push({ step: name, wallMs: performance.now() - wall, cpuMs: cpuMs() - cpu, atStart });
}

const fn = Deno.args[0];
const here = (path: string) => new URL(path, import.meta.url).href;
const db = here("../../shared/db/user_client.ts");

await step("hono (and hono/cors)", () => Promise.all([import("hono"), import("hono/cors")]));
await step("zod", () => import("zod"));
await step("@hono/zod-openapi (beyond hono, zod)", () => import("@hono/zod-openapi"));
await step("jose", () => import("jose"));
await step("database client (@supabase/postgrest-js)", () => import(db));

type App = { fetch: (request: Request) => Response | Promise<Response> };
let request: Request;
if (fn === "mcp-connections") {
  await step("project modules (shared/, the function's app and routes)", () =>
    Promise.all([
      import(here("../../functions/mcp-connections/app.ts")),
      import(here("../../shared/auth/jwt_verifier.ts")),
      import(here("../../shared/config/function_env.ts")),
      import(here("../../shared/db/service_client.ts")),
      import(here("../../shared/domain/server_credentials.ts")),
      import(here("../../shared/log/logger.ts")),
      import(here("../../shared/mcp/mod.ts")),
    ]));
  request = new Request("http://127.0.0.1/mcp-connections/connections");
} else {
  await step("project modules (shared/, the function's app)", () =>
    Promise.all([
      import(here("../../functions/mcp-health-check/app.ts")),
      import(here("../../shared/auth/jwt_verifier.ts")),
      import(here("../../shared/config/function_env.ts")),
      import(here("../../shared/db/service_client.ts")),
      import(here("../../shared/log/logger.ts")),
      import(here("../../shared/mcp/mod.ts")),
    ]));
  request = new Request("http://127.0.0.1/mcp-health-check", { method: "POST" });
}

const { loadFunctionEnv } = await import(here("../../shared/config/function_env.ts"));
const { createJwtVerifier } = await import(here("../../shared/auth/jwt_verifier.ts"));
const { createServiceDbClient } = await import(here("../../shared/db/service_client.ts"));
const { createLogger } = await import(here("../../shared/log/logger.ts"));
let env!: ReturnType<typeof loadFunctionEnv>;
let verifyJwt!: ReturnType<typeof createJwtVerifier>;
let app!: App;
await step("environment (loadFunctionEnv)", () => {
  env = loadFunctionEnv();
});
await step("JWT verifier (keys imported)", () => {
  verifyJwt = createJwtVerifier({
    jwks: env.jwks,
    secret: env.jwtSecret,
    jwksUrl: new URL(`${env.supabaseUrl}/auth/v1/.well-known/jwks.json`),
  });
});
const mcp = await import(here("../../shared/mcp/mod.ts"));
if (fn === "mcp-connections") {
  const { createMcpConnectionsApp } = await import(here("../../functions/mcp-connections/app.ts"));
  const { serverCredentialsReader } = await import(
    here("../../shared/domain/server_credentials.ts")
  );
  await step("app construction (routes, schemas, middleware)", () => {
    app = createMcpConnectionsApp({
      env,
      verifyJwt,
      probe: mcp.createProbe({ networkPolicy: mcp.networkPolicyFromEnv() }),
      readCredentials: serverCredentialsReader(() =>
        createServiceDbClient(env.supabaseUrl, env.serviceApiKey!)
      ),
      logger: createLogger({ function: "mcp-connections" }),
    });
  });
} else {
  const { createHealthCheckApp } = await import(here("../../functions/mcp-health-check/app.ts"));
  await step("app construction (routes, schemas, middleware)", () => {
    app = createHealthCheckApp({
      auth: { serviceKeys: env.serviceKeys, cronSecret: env.healthCheckSecret, verifyJwt },
      db: createServiceDbClient(env.supabaseUrl, env.serviceApiKey!),
      probe: mcp.createProbe({ networkPolicy: mcp.networkPolicyFromEnv() }),
      logger: createLogger({ function: "mcp-health-check" }),
    });
  });
}
await step("first request (in process, no token: 401)", async () => {
  const response = await app.fetch(request);
  await response.arrayBuffer();
});
await step("not at start: the OpenAPI document (built per GET /openapi.json)", async () => {
  const response = await app.fetch(new Request(`http://127.0.0.1/${fn}/openapi.json`));
  await response.arrayBuffer();
}, false);
await step(
  "not at start: the probe's implementation and the MCP SDK (the first probe)",
  // An invalid URL: the implementation loads, then refuses it without a request.
  () => mcp.probe("not a url").catch(() => {}),
  false,
);
// deno-lint-ignore no-console
console.log(`breakdown ${JSON.stringify(steps)}`);
