/**
 * supabase/snippets/schedule_mcp_health_check.sql, run against stand-ins for
 * pg_cron, pg_net and Vault (the local PostgreSQL has none of them): the job it
 * schedules makes the HTTP call the function expects, and that call, replayed
 * against the local stack, runs a health check.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { splitSqlStatements } from "../../scripts/stack/sql_statements.ts";
import { projectRootFromHere } from "../../scripts/stack/project_config.ts";
import { call, openDb, stack } from "../_support/stack.ts";

const STAND_INS = `
create schema cron;
create table cron.job (jobid bigserial primary key, jobname text unique, schedule text, command text);
create function cron.schedule(job_name text, schedule text, command text) returns bigint
language sql as $$
    insert into cron.job (jobname, schedule, command) values (job_name, schedule, command)
    on conflict (jobname) do update set schedule = excluded.schedule, command = excluded.command
    returning jobid
$$;
create schema net;
create table net.calls (url text, body jsonb, headers jsonb, timeout_milliseconds integer);
create function net.http_post(
    url text, body jsonb default '{}', params jsonb default '{}',
    headers jsonb default '{"Content-Type": "application/json"}', timeout_milliseconds integer default 5000
) returns bigint language sql as $$
    insert into net.calls values (url, body, headers, timeout_milliseconds) returning 1::bigint
$$;
create schema vault;
create table vault.decrypted_secrets (name text primary key, decrypted_secret text);
`;

Deno.test("the scheduling snippet makes pg_cron call the function with the key from Vault", async () => {
  await using sql = openDb();
  const snippet = await Deno.readTextFile(
    join(projectRootFromHere(), "supabase", "snippets", "schedule_mcp_health_check.sql"),
  );
  const rollback = new Error("rollback: leave no stand-ins behind");
  let job: Record<string, string> | undefined;
  let made: Record<string, unknown> | undefined;
  await sql.begin(async (tx) => {
    await tx.unsafe(STAND_INS);
    await tx`insert into vault.decrypted_secrets values
      ('project_url', ${stack.url}), ('mcp_health_check_key', ${stack.secretKey})`;
    for (const statement of splitSqlStatements(snippet)) await tx.unsafe(statement);
    for (const statement of splitSqlStatements(snippet)) await tx.unsafe(statement); // idempotent
    const jobs = await tx`select jobname, schedule, command from cron.job`;
    assert.equal(jobs.length, 1);
    job = jobs[0];
    await tx.unsafe(job!.command!); // what pg_cron runs every 5 minutes
    [made] = await tx`select url, body, headers, timeout_milliseconds from net.calls`;
    throw rollback;
  }).catch((error) => {
    if (error !== rollback) throw error;
  });
  assert.equal(job!.schedule, "*/5 * * * *");
  assert.ok(!job!.command!.includes(stack.secretKey), "the key stays in Vault, not in the job");
  assert.equal(made!.url, `${stack.url}/functions/v1/mcp-health-check`);
  assert.equal(made!.timeout_milliseconds, 150000);

  const replay = await call<{ runId: string | null }>(made!.url as string, {
    method: "POST",
    headers: made!.headers as Record<string, string>,
    body: JSON.stringify({ ...(made!.body as object), dryRun: true }),
  });
  assert.equal(replay.status, 200, JSON.stringify(replay.body));
});
