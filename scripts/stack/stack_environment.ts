/**
 * How a running stack is described to test and benchmark processes: environment
 * variables set by the runner, read back (and validated) by tests/_support/stack.ts.
 */
import type { RunningStack } from "./stack.ts";

export function stackEnvironment(stack: RunningStack): Record<string, string> {
  return {
    SUPABASE_URL: stack.url,
    SUPABASE_ANON_KEY: stack.keys.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: stack.keys.serviceRoleKey,
    SUPABASE_DB_URL: stack.dbUrl,
    STACK_REST_URL: stack.restUrl,
    STACK_JWT_SECRET: stack.keys.jwtSecret,
    STACK_PUBLISHABLE_KEY: stack.keys.publishableKey,
    STACK_SECRET_KEY: stack.keys.secretKey,
    STACK_DEMO_MCP_URL: stack.demoMcpServerUrl ?? "",
    STACK_HEALTH_CHECK_SECRET: stack.functionEnv["HEALTH_CHECK_SECRET"] ?? "",
    STACK_LOG_DIR: stack.logDir,
  };
}
