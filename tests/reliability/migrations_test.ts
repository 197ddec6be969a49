/**
 * The migrations on a private PostgreSQL cluster, applied file by file straight (not
 * through the migration tracker, so that each file proves itself idempotent):
 *
 * - twice onto a fresh Supabase-like database: the second pass changes nothing, and the
 *   data written in between stays;
 * - twice onto a database whose platform already has `agents`, `account_tool_instances`
 *   and `user_roles`, in shapes of its own (extra columns, an enum role, an identity id,
 *   no `mcp_server_url`, its own agents policy) and with data: everything stays, the
 *   platform's own policy is neither loosened nor doubled, and the module works on top;
 * - onto a platform whose servers table has its own policy and no grant for service_role
 *   (no default privileges, as on a project created today): the health check reads it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import postgres from "postgres";
import { applyScript, listMigrations } from "../../scripts/stack/migrations.ts";
import { findPostgresBinaries, PostgresCluster } from "../../scripts/stack/postgres_cluster.ts";
import { freePort } from "../../scripts/stack/processes.ts";
import { projectRootFromHere } from "../../scripts/stack/project_config.ts";

const root = projectRootFromHere();

async function applyAllMigrations(sql: postgres.Sql): Promise<void> {
  for (const migration of await listMigrations(join(root, "supabase", "migrations"))) {
    await applyScript(sql, migration.path);
  }
}

/** Everything the migrations define in public, without oids: equal text, equal schema. */
async function schemaFingerprint(sql: postgres.Sql): Promise<string> {
  const [row] = await sql<[{ fingerprint: string }]>`
    with rels as (select oid from pg_class where relnamespace = 'public'::regnamespace)
    select string_agg(item, E'\n' order by item) as fingerprint from (
      select format('relation %s %s rls=%s options=%s acl=%s', c.oid::regclass, c.relkind,
                    c.relrowsecurity, c.reloptions, c.relacl)
      from pg_class as c where c.oid in (select oid from rels) and c.relkind <> 'S'
      union all
      select format('column %s.%s %s notnull=%s default=%s', a.attrelid::regclass, a.attname,
                    format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
      from pg_attribute as a
      left join pg_attrdef as d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where a.attrelid in (select oid from rels) and a.attnum > 0 and not a.attisdropped
      union all
      select format('constraint %s %s %s', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid))
      from pg_constraint as k where k.connamespace = 'public'::regnamespace
      union all
      select format('index %s', pg_get_indexdef(i.indexrelid))
      from pg_index as i where i.indrelid in (select oid from rels)
      union all
      select format('policy %s %s %s %s %s using=%s check=%s', p.tablename, p.policyname, p.permissive,
                    p.cmd, p.roles, p.qual, p.with_check)
      from pg_policies as p where p.schemaname = 'public'
      union all
      select format('function %s definer=%s config=%s acl=%s body=%s', f.oid::regprocedure, f.prosecdef,
                    f.proconfig, f.proacl, md5(pg_get_functiondef(f.oid)))
      from pg_proc as f where f.pronamespace = 'public'::regnamespace
      union all
      select format('trigger %s', pg_get_triggerdef(g.oid))
      from pg_trigger as g where g.tgrelid in (select oid from rels) and not g.tgisinternal
      union all
      select format('view %s %s', v.oid::regclass, md5(pg_get_viewdef(v.oid)))
      from pg_class as v where v.oid in (select oid from rels) and v.relkind = 'v'
      union all
      select format('comment %s %s', d.objoid::regclass, md5(d.description))
      from pg_description as d where d.objoid in (select oid from rels) and d.objsubid = 0
    ) as items (item)
  `;
  return row.fingerprint;
}

/** A private cluster with the Supabase platform basics, and databases made from it. */
async function withCluster(
  run: (connect: (database: string) => postgres.Sql) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "migrations-cluster-" });
  if (Deno.uid() === 0) await Deno.chmod(dir, 0o755);
  const cluster = new PostgresCluster(await findPostgresBinaries(), {
    root: dir,
    port: freePort(),
    password: "postgres",
    ephemeral: true,
  });
  const open: postgres.Sql[] = [];
  const connect = (database: string) => {
    const url = new URL(cluster.url);
    url.pathname = `/${database}`;
    const sql = postgres(url.href, { max: 1, onnotice: () => {} });
    open.push(sql);
    return sql;
  };
  try {
    await cluster.ensureCreated();
    await cluster.start();
    const platform = connect("postgres");
    await applyScript(platform, join(root, "scripts/stack/sql/supabase_platform.sql"));
    await platform.end();
    // Each scenario gets a copy of the bootstrapped database (roles are cluster-wide).
    const admin = connect("template1");
    for (const name of ["fresh", "existing", "policed"]) {
      await admin.unsafe(`create database ${name} template postgres`);
      await admin.unsafe(`alter database ${name} set search_path to "$user", public, extensions`);
    }
    await run(connect);
  } finally {
    await Promise.all(open.map((sql) => sql.end({ timeout: 1 }).catch(() => {})));
    await cluster.stop("immediate").catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A user `<label>@tests.local` with one agent, and one server with a URL. */
async function seedAgentAndServer(
  sql: postgres.Sql,
  label: string,
): Promise<{ userId: string; agentId: string; serverId: string }> {
  const userId = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${userId}, ${`${label}@tests.local`})`;
  const [agent] =
    await sql`insert into agents (user_id, name) values (${userId}, ${label}) returning id`;
  const [server] = await sql`
    insert into account_tool_instances (instance_name_on_toolbox, mcp_server_url)
    values (${`${label} server`}, 'https://mcp.example.com/mcp') returning id`;
  return { userId, agentId: agent!.id, serverId: server!.id };
}

/** What the health check (service_role) sees as its targets: server and connection count. */
async function healthCheckTargets(sql: postgres.Sql): Promise<postgres.Row[]> {
  return await sql.begin(async (tx) => {
    await tx`set local role service_role`;
    return [
      ...await tx`
        select mcp_server_instance_id, connections from mcp_health_check_targets(null, null)`,
    ];
  });
}

/** Runs `query` as a signed-in user (RLS applies), in a transaction that is rolled back. */
async function asUser<T>(
  sql: postgres.Sql,
  userId: string,
  query: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  let result: T | undefined;
  await sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true)`;
    await tx`select set_config('request.jwt.claims', ${
      JSON.stringify({ sub: userId, role: "authenticated" })
    }, true)`;
    result = await query(tx);
    throw new RollBack();
  }).catch((error) => {
    if (!(error instanceof RollBack)) throw error;
  });
  return result as T;
}

class RollBack extends Error {}

Deno.test("the migrations apply twice, and onto a platform that already has its own tables", async (t) => {
  await withCluster(async (connect) => {
    await t.step(
      "a fresh database: twice, the second pass changes nothing and keeps the data",
      async () => {
        const sql = connect("fresh");
        await applyAllMigrations(sql);
        const first = await schemaFingerprint(sql);
        const { userId, agentId, serverId } = await seedAgentAndServer(sql, "twice");
        await sql`insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by, connection_config)
                values (${agentId}, ${serverId}, ${userId}, '{"timeout": 5000}')`;
        const dataBefore = await sql`select * from agent_mcp_connections`;

        await applyAllMigrations(sql);
        assert.equal(await schemaFingerprint(sql), first, "the second pass changed the schema");
        assert.deepEqual(await sql`select * from agent_mcp_connections`, dataBefore);
      },
    );

    await t.step(
      "a platform with agents, account_tool_instances and user_roles of its own",
      async () => {
        const sql = connect("existing");
        const [owner, admin] = [crypto.randomUUID(), crypto.randomUUID()];
        await sql.unsafe(`
        create type public.app_role as enum ('admin', 'member');

        create table public.agents (
            id uuid primary key default gen_random_uuid(),
            user_id uuid not null references auth.users (id) on delete cascade,
            name text not null,
            description text,
            model text not null default 'gpt-4o',
            settings jsonb not null default '{}',
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now()
        );
        alter table public.agents enable row level security;
        create policy "Owners manage their agents" on public.agents
            for all to authenticated
            using (user_id = (select auth.uid()))
            with check (user_id = (select auth.uid()));
        grant select, insert, update, delete on public.agents to authenticated;

        create table public.account_tool_instances (
            id uuid primary key default gen_random_uuid(),
            instance_name_on_toolbox text not null,
            status_on_toolbox text not null default 'running',
            toolbox_region text,
            created_at timestamptz not null default now()
        );

        create table public.user_roles (
            id bigint generated always as identity primary key,
            user_id uuid not null references auth.users (id) on delete cascade,
            role public.app_role not null,
            unique (user_id, role)
        );
      `);
        await sql`insert into auth.users (id, email) values (${owner}, 'owner@platform.test'), (${admin}, 'admin@platform.test')`;
        await sql`insert into agents (user_id, name, model, settings)
                values (${owner}, 'Platform agent', 'claude', '{"temperature": 0.2}')`;
        await sql`insert into account_tool_instances (instance_name_on_toolbox, toolbox_region)
                values ('Platform server', 'eu-west-1')`;
        await sql`insert into user_roles (user_id, role) values (${admin}, 'admin'), (${owner}, 'member')`;
        const snapshot = async () => ({
          agents:
            await sql`select id, user_id, name, model, settings, created_at from agents order by id`,
          servers: await sql`
          select id, instance_name_on_toolbox, status_on_toolbox, toolbox_region from account_tool_instances
          order by id`,
          roles: await sql`select id, user_id, role::text from user_roles order by id`,
        });
        const before = await snapshot();

        await applyAllMigrations(sql);
        const first = await schemaFingerprint(sql);
        await applyAllMigrations(sql);
        assert.equal(await schemaFingerprint(sql), first, "the second pass changed the schema");
        assert.deepEqual(await snapshot(), before, "the platform's data is kept");

        // The platform's shapes stay; what the module reads is added.
        const columns = await sql`
        select table_name, column_name, is_nullable from information_schema.columns
        where table_schema = 'public' and table_name in ('agents', 'account_tool_instances')
          and column_name in ('model', 'settings', 'toolbox_region', 'mcp_server_url')
        order by 1, 2
      `;
        assert.deepEqual(columns.map((c) => [c.table_name, c.column_name, c.is_nullable]), [
          ["account_tool_instances", "mcp_server_url", "YES"],
          ["account_tool_instances", "toolbox_region", "YES"],
          ["agents", "model", "NO"],
          ["agents", "settings", "NO"],
        ]);
        // The platform's own agents policy is the only one; tables without policies get the module's.
        const policies = await sql`select tablename, policyname from pg_policies
        where schemaname = 'public' and tablename in ('agents', 'account_tool_instances', 'user_roles')
        order by 1, 2`;
        assert.deepEqual(policies.map((p) => [p.tablename, p.policyname]), [
          ["account_tool_instances", "Admins can add MCP servers"],
          ["account_tool_instances", "Admins can remove MCP servers"],
          ["account_tool_instances", "Admins can update MCP servers"],
          ["account_tool_instances", "Signed-in users can view MCP servers"],
          ["agents", "Owners manage their agents"],
          ["user_roles", "Users can view their own roles"],
        ]);
        const rls = await sql`select relname from pg_class
        where relnamespace = 'public'::regnamespace and relkind = 'r' and not relrowsecurity`;
        assert.deepEqual(rls.map((r) => r.relname), [], "RLS on every table");

        // The module works on the platform's tables: is_admin() reads the enum role, and the
        // owner connects their existing agent to the existing server under RLS.
        assert.equal(
          await asUser(sql, admin, async (tx) => (await tx`select is_admin() as a`)[0]!.a),
          true,
        );
        assert.equal(
          await asUser(sql, owner, async (tx) => (await tx`select is_admin() as a`)[0]!.a),
          false,
        );
        const [agent] = before.agents;
        const [server] = before.servers;
        await sql`update account_tool_instances set mcp_server_url = 'https://mcp.example.com/mcp'`;
        const created = await asUser(
          sql,
          owner,
          async (tx) =>
            await tx`insert into agent_mcp_connections (agent_id, mcp_server_instance_id)
                 values (${agent!.id}, ${server!.id}) returning created_by, connection_status`,
        );
        assert.deepEqual([...created], [{ created_by: owner, connection_status: "disconnected" }]);
        const refused = await asUser(
          sql,
          admin,
          (tx) =>
            tx`insert into agent_mcp_connections (agent_id, mcp_server_instance_id)
           values (${agent!.id}, ${server!.id})`.then(() => "inserted", (error) => error.code),
        );
        assert.equal(refused, "42501", "another user cannot connect the owner's agent");

        // The health check (service_role) reads the platform's servers: the module grants
        // it SELECT even on a platform table it does not secure itself (no default
        // privileges, as on a project created today).
        await sql`insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
                  values (${agent!.id}, ${server!.id}, ${owner})`;
        assert.deepEqual(await healthCheckTargets(sql), [
          { mcp_server_instance_id: server!.id, connections: 1 },
        ]);
      },
    );

    await t.step(
      "a platform whose servers table has its own policy: the health check (service_role) reads it",
      async () => {
        const sql = connect("policed");
        await sql.unsafe(`
        create table public.account_tool_instances (
            id uuid primary key default gen_random_uuid(),
            instance_name_on_toolbox text not null,
            status_on_toolbox text not null default 'running',
            mcp_server_url text,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now()
        );
        alter table public.account_tool_instances enable row level security;
        create policy "Members read servers" on public.account_tool_instances
            for select to authenticated using (true);
        grant select on public.account_tool_instances to authenticated;
      `);
        await applyAllMigrations(sql);
        // The platform's policy and grants stay; service_role gets SELECT, nothing more.
        const [acl] = await sql`select relacl::text[] as acl from pg_class
                                where oid = 'public.account_tool_instances'::regclass`;
        assert.deepEqual(acl!.acl, [
          "postgres=arwdDxt/postgres",
          "authenticated=r/postgres",
          "service_role=r/postgres",
        ]);
        const { userId, agentId, serverId } = await seedAgentAndServer(sql, "policed");
        await sql`insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
                  values (${agentId}, ${serverId}, ${userId})`;
        assert.deepEqual(await healthCheckTargets(sql), [
          { mcp_server_instance_id: serverId, connections: 1 },
        ]);
      },
    );
  });
});
