/** The local stack behaves like a Supabase project, and keeps its data across restarts. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { mintUserToken } from "../../../scripts/stack/keys.ts";
import { listMigrations, pushMigrations } from "../../../scripts/stack/migrations.ts";
import { projectRootFromHere } from "../../../scripts/stack/project_config.ts";
import { startStack } from "../../../scripts/stack/stack.ts";
import { stack } from "../../_support/stack.ts";

const DEMO_USER = "11111111-1111-4111-8111-111111111111";
const DEMO_AGENT = "22222222-2222-4222-8222-222222222222";
const DEMO_CONNECTION = "77777777-7777-4777-8777-777777777777";
const OTHER_CONNECTION = "66666666-6666-4666-8666-666666666666";

Deno.test("supabase-js through the gateway sees only the signed-in user's rows", async () => {
  const token = await mintUserToken({ sub: DEMO_USER, secret: stack.jwtSecret });
  const asUser = createClient(stack.url, stack.anonKey, {
    global: { headers: { Authorization: `Bearer ${token}` } },
    auth: { persistSession: false },
  });
  const { data, error } = await asUser.from("agent_mcp_connections").select("id, agent_id");
  assert.equal(error, null);
  // The seeded connection (and any the README session added), all of the demo agent's.
  assert.ok(data?.some((row) => row.id === DEMO_CONNECTION));
  assert.ok(data?.every((row) => row.agent_id === DEMO_AGENT));

  const asAnon = createClient(stack.url, stack.anonKey, { auth: { persistSession: false } });
  const anon = await asAnon.from("agent_mcp_connections").select("id");
  assert.equal(anon.data, null);
  assert.equal(anon.error?.code, "42501");

  const asService = createClient(stack.url, stack.serviceRoleKey, {
    auth: { persistSession: false },
  });
  const all = await asService.from("agent_mcp_connections").select("id").in("id", [
    DEMO_CONNECTION,
    OTHER_CONNECTION,
  ]);
  assert.equal(all.data?.length, 2);
});

Deno.test("migrations and the seed are applied and recorded by the real Supabase CLI", async () => {
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ version: string; name: string; statements: string[] }[]>`
      select version, name, statements from supabase_migrations.schema_migrations order by version
    `;
    const files = await listMigrations(join(projectRootFromHere(), "supabase", "migrations"));
    assert.deepEqual(rows.map((r) => [r.version, r.name]), files.map((f) => [f.version, f.name]));
    assert.ok(rows.every((r) => r.statements.length > 0));
    const [seed] = await sql`select path from supabase_migrations.seed_files`;
    assert.equal(seed!.path, "supabase/seed.sql");
  } finally {
    await sql.end();
  }
});

Deno.test("a restarted stack keeps its data and applies only new migrations", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "stack-restart-" });
  if (Deno.uid() === 0) await Deno.chmod(stateDir, 0o755);
  try {
    const options = {
      stateDir,
      apiPort: 0,
      dbPort: 0,
      demoMcpPort: null,
      ephemeral: true,
    } as const;
    const first = await startStack(options);
    assert.equal(first.createdCluster, true);
    assert.ok(first.appliedMigrations.length > 0);
    let sql = postgres(first.dbUrl, { max: 1, onnotice: () => {} });
    await sql`insert into auth.users (id, email) values (${crypto.randomUUID()}, 'kept@tests.local')`;
    await sql.end();
    await first.stop();

    const second = await startStack(options);
    try {
      assert.equal(second.createdCluster, false);
      assert.deepEqual(second.appliedMigrations, []);
      sql = postgres(second.dbUrl, { max: 1, onnotice: () => {} });
      const [kept] =
        await sql`select count(*)::int as n from auth.users where email = 'kept@tests.local'`;
      assert.equal(kept!.n, 1);

      // A new migration file is applied once, alone, by `supabase db push`.
      const project = await Deno.makeTempDir({ prefix: "migrations-" });
      const folder = join(project, "supabase", "migrations");
      await Deno.mkdir(folder, { recursive: true });
      await Deno.copyFile(
        join(projectRootFromHere(), "supabase", "config.toml"),
        join(project, "supabase", "config.toml"),
      );
      for (
        const file of await listMigrations(join(projectRootFromHere(), "supabase", "migrations"))
      ) {
        await Deno.copyFile(file.path, join(folder, `${file.version}_${file.name}.sql`));
      }
      await Deno.writeTextFile(
        join(folder, "29990101000000_later.sql"),
        "create table public.later (id int);",
      );
      const push = () => pushMigrations(sql, second.dbUrl, { projectDir: project });
      assert.deepEqual(await push(), ["29990101000000"]);
      assert.deepEqual(await push(), []);
      const [later] = await sql`select to_regclass('public.later') is not null as created`;
      assert.equal(later!.created, true);
      await sql.end();
      await Deno.remove(project, { recursive: true });
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
