/**
 * The RLS matrix: who may do what to which object, asserted cell by cell.
 *
 * Roles: anon (the anon key), owner, other (another user), admin (role admin), and
 * service_role (the service role key), each with a real JWT, straight at PostgREST
 * through the gateway (`/rest/v1`) and through the functions. Objects: every table
 * and view in public (select / insert / update / delete), every function PostgREST
 * exposes (listed from pg_proc: a new function or table without a row here fails the
 * test), and named attacks (moving a connection to another user's agent, changing
 * `created_by`, asking the SECURITY DEFINER helpers about other users, reading server
 * secrets). Every write attempt is checked in the database too: it changed what it
 * should and nothing else. A leak is any cell that got more than the table allows.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import { mapConcurrently, readBody } from "../_support/reliability.ts";
import {
  API,
  createAgent,
  createServer,
  createUser,
  openDb,
  stack,
  type TestUser,
} from "../_support/stack.ts";

// =============================================================================
// Roles and expected outcomes
// =============================================================================

const ROLES = ["anon", "owner", "other", "admin", "service_role"] as const;
type Role = (typeof ROLES)[number];
type UserRole = Exclude<Role, "anon" | "service_role">;

/** What a cell must observe. */
type Expect =
  /** 2xx; of the fixture rows, exactly these (by fixture name). */
  | { kind: "rows"; names: string[] }
  /** 2xx with this value (RPC). */
  | { kind: "value"; value: unknown }
  /** 2xx with any answer, and nothing changed. */
  | { kind: "answered" }
  /** 2xx, and the attempt's change is in the database. */
  | { kind: "written" }
  /** 2xx touching no row: RLS hides the target; the database is unchanged. */
  | { kind: "filtered" }
  /** 401/403 `permission denied` (42501): the role has no privilege at all. */
  | { kind: "denied" }
  /** 403 `new row violates row-level security policy` (42501). */
  | { kind: "rls" }
  /**
   * Refused with this SQLSTATE by a trigger or a function's own check, with the HTTP status
   * PostgREST gives it (22023 and 23514 are 400, 42501 is 403, PT<nnn> is nnn; 55000 is 500).
   */
  | { kind: "refused"; code: string; status: number }
  /** 404 PGRST202: PostgREST exposes no such function (signature). */
  | { kind: "absent" };

const rows = (...names: string[]): Expect => ({ kind: "rows", names });
const value = (v: unknown): Expect => ({ kind: "value", value: v });
const written: Expect = { kind: "written" };
const filtered: Expect = { kind: "filtered" };
const denied: Expect = { kind: "denied" };
const rls: Expect = { kind: "rls" };
const answered: Expect = { kind: "answered" };
const refused = (code: string, status: number): Expect => ({ kind: "refused", code, status });
const absent: Expect = { kind: "absent" };

type ByRole = Record<Role, Expect>;
/** Expectations in the order anon, owner, other, admin, service_role. */
const by = (
  anon: Expect,
  owner: Expect,
  other: Expect,
  admin: Expect,
  service: Expect,
): ByRole => ({
  anon,
  owner,
  other,
  admin,
  service_role: service,
});
/** The same for every role. */
const all = (expect: Expect): ByRole => by(expect, expect, expect, expect, expect);
/** Nobody but service_role (which bypasses RLS and holds every grant). */
const serviceOnly = (service: Expect): ByRole => by(denied, denied, denied, denied, service);

// =============================================================================
// Fixture: three users with one connection each, two servers (one with a secret),
// health rows and checks, one finished run
// =============================================================================

interface Fixture {
  users: Record<UserRole, TestUser>;
  s1: string;
  s2: string;
  /** A server whose status_on_toolbox is 'stopped'. */
  stopped: string;
  connections: Record<UserRole, string>;
  checks: Record<UserRole, string>;
  run: string;
  /** A batch of the run. */
  batch: string;
  /** probe_target_key('{"timeout": 5000}'), computed by the database. */
  targetKeyOfTimeout5000: string;
  /** probe_target_key(<owner>, '{"timeout": 5000}'). */
  ownerTargetKeyOfTimeout5000: string;
  /** Per user, a connection of its own with one usage bucket (nothing else touches it). */
  bucketConnections: Record<UserRole, string>;
}

const UNUSED_URL = "http://127.0.0.1:9/mcp";

async function createFixture(sql: postgres.Sql): Promise<Fixture> {
  const users = {
    owner: await createUser(sql, { label: "rls-owner" }),
    other: await createUser(sql, { label: "rls-other" }),
    admin: await createUser(sql, { label: "rls-admin", admin: true }),
  };
  const s1 = await createServer(sql, UNUSED_URL, "RLS server one");
  const s2 = await createServer(sql, "https://mcp.example.com/mcp", "RLS server two");
  await sql`insert into account_tool_instance_secrets (instance_id, secret)
            values (${s2}, '{"token": "do-not-leak"}')`;
  const stopped = await createServer(sql, UNUSED_URL, "RLS stopped server");
  await sql`update account_tool_instances set status_on_toolbox = 'stopped' where id = ${stopped}`;
  const [run] = await sql<[{ id: string }]>`
    insert into mcp_health_check_runs (started_at, lease_expires_at, finished_at)
    values (now() - interval '1 hour', now() - interval '59 minutes', now() - interval '59 minutes')
    returning id
  `;
  const connections = {} as Record<UserRole, string>;
  const checks = {} as Record<UserRole, string>;
  for (const [index, role] of (["owner", "other", "admin"] as const).entries()) {
    const config = { timeout: 1001 + index };
    const [connection] = await sql<[{ id: string }]>`
      insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by, connection_config)
      values (${users[role].agentId}, ${s1}, ${users[role].id}, ${sql.json(config)})
      returning id
    `;
    connections[role] = connection.id;
    await sql`insert into agent_mcp_connection_health (connection_id, consecutive_failures)
              values (${connection.id}, ${index})`;
    const [check] = await sql<[{ id: string }]>`
      insert into mcp_health_checks (run_id, mcp_server_instance_id, owner_id, target_key, success, latency_ms)
      values (${run.id}, ${s1}, ${users[role].id}, probe_target_key(${users[role].id}::uuid, ${
      sql.json(config)
    }), true, 5)
      returning id::text
    `;
    checks[role] = check.id;
  }
  const bucketConnections = {} as Record<UserRole, string>;
  for (const role of ["owner", "other", "admin"] as const) {
    const agent = await createAgent(sql, users[role].id);
    const [connection] = await sql<[{ id: string }]>`
      insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
      values (${agent}, ${s1}, ${users[role].id}) returning id
    `;
    bucketConnections[role] = connection.id;
    await insertBucket(sql, connection.id, agent);
  }
  const [batch] = await sql<[{ id: string }]>`
    insert into mcp_health_check_batches (run_id, batch_no, state, targets, target_count)
    values (${run.id}, 0, 'done', '[]', 0) returning id::text
  `;
  const [key] = await sql<[{ key: string }]>`select probe_target_key('{"timeout": 5000}') as key`;
  const [ownerKey] = await sql<[{ key: string }]>`
    select probe_target_key(${users.owner.id}::uuid, '{"timeout": 5000}') as key`;
  return {
    users,
    s1,
    s2,
    stopped,
    connections,
    checks,
    run: run.id,
    batch: batch.id,
    targetKeyOfTimeout5000: key.key,
    ownerTargetKeyOfTimeout5000: ownerKey.key,
    bucketConnections,
  };
}

// =============================================================================
// Cells
// =============================================================================

interface HttpRequest {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One attempt of one role. */
interface Cell {
  /** Object (table, view, function, route) and action, e.g. "agents · update". */
  object: string;
  action: string;
  role: Role;
  expect: Expect;
  /** Makes the rows the attempt aims at (fresh for each cell); returns their ids. */
  prepare?: (sql: postgres.Sql) => Promise<Record<string, string>>;
  request: (target: Record<string, string>) => HttpRequest;
  /** What the attempt may change, read before and after it. */
  snapshot?: (sql: postgres.Sql, target: Record<string, string>) => Promise<string>;
  /** Fixture names of the ids a row result may hold (read cells). */
  names?: Record<string, string>;
  /** The row key in results (default `id`). */
  key?: string;
}

/** The JSON text of the rows a query returns, for before/after comparison. */
async function rowsText(query: postgres.PendingQuery<postgres.Row[]>): Promise<string> {
  return JSON.stringify(await query) ?? "";
}

/** Inverts a map of fixture names to ids. */
function namesOf(ids: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(ids).map(([name, id]) => [id, name]));
}

const inList = (ids: string[]) => `in.(${ids.join(",")})`;

// --- fresh targets ----------------------------------------------------------------

async function freshOwnerAgent(sql: postgres.Sql, f: Fixture): Promise<string> {
  return await createAgent(sql, f.users.owner.id);
}

async function freshOwnerConnection(
  sql: postgres.Sql,
  f: Fixture,
  options: { active?: boolean; health?: boolean } = {},
): Promise<{ agent: string; connection: string }> {
  const agent = await freshOwnerAgent(sql, f);
  const active = options.active ?? true;
  const [row] = await sql<[{ id: string }]>`
    insert into agent_mcp_connections
      (agent_id, mcp_server_instance_id, created_by, connection_config, is_active)
    values (${agent}, ${f.s1}, ${f.users.owner.id}, '{"timeout": 1000, "retryAttempts": 0}', ${active})
    returning id
  `;
  if (options.health) {
    await sql`insert into agent_mcp_connection_health (connection_id) values (${row.id})`;
  }
  return { agent, connection: row.id };
}

/** An active connection of the owner's to a server that stopped after the connect. */
async function connectionToStoppedServer(
  sql: postgres.Sql,
  f: Fixture,
): Promise<Record<string, string>> {
  const server = await createServer(sql, UNUSED_URL, "RLS server that stops");
  const agent = await freshOwnerAgent(sql, f);
  const [row] = await sql<[{ id: string }]>`
    insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
    values (${agent}, ${server}, ${f.users.owner.id}) returning id
  `;
  await sql`update account_tool_instances set status_on_toolbox = 'stopped' where id = ${server}`;
  return { agent, connection: row.id, server };
}

/** The usage buckets of one event, as the usage function writes them (this hour, this day). */
async function insertBucket(sql: postgres.Sql, connection: string, agent: string): Promise<void> {
  await sql`
    insert into agent_mcp_connection_usage_buckets
      (connection_id, agent_id, granularity, bucket_start, requests, successes, failures,
       requests_under_10ms, requests_under_20ms, requests_under_50ms, requests_under_100ms,
       requests_under_200ms, requests_under_500ms, requests_under_1s, requests_under_2s,
       requests_under_5s, requests_under_10s, requests_under_30s, requests_under_60s)
    select ${connection}, ${agent}, g, date_trunc(g, now() at time zone 'UTC') at time zone 'UTC',
           1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
    from unnest(array['hour', 'day']) as g
  `;
}

/** A fresh connection of the owner's with one usage bucket. */
async function freshBucket(sql: postgres.Sql, f: Fixture): Promise<Record<string, string>> {
  const { agent, connection } = await freshOwnerConnection(sql, f);
  await insertBucket(sql, connection, agent);
  return { agent, connection };
}

const bucketsSnapshot = (sql: postgres.Sql, connection: string) =>
  rowsText(
    sql`select * from agent_mcp_connection_usage_buckets where connection_id = ${connection}
        order by granularity, bucket_start`,
  );

const connectionSnapshot = (sql: postgres.Sql, id: string) =>
  rowsText(sql`select * from agent_mcp_connections where id = ${id}`);
const agentConnectionsSnapshot = (sql: postgres.Sql, agent: string) =>
  rowsText(sql`select * from agent_mcp_connections where agent_id = ${agent} order by id`);

// --- tables and views --------------------------------------------------------------

interface WriteSpec {
  expect: ByRole;
  prepare: (sql: postgres.Sql) => Promise<Record<string, string>>;
  request: (target: Record<string, string>) => HttpRequest;
  snapshot: (sql: postgres.Sql, target: Record<string, string>) => Promise<string>;
}

interface RelationSpec {
  /** The column that identifies fixture rows. */
  key: string;
  /** Fixture name -> key value, for reads. */
  fixtureRows: Record<string, string>;
  select: ByRole;
  insert: WriteSpec;
  update: WriteSpec;
  delete: WriteSpec;
}

/**
 * A recommendations aggregate: the refresh (SECURITY DEFINER) writes it; service_role may
 * read it; nobody may write it through the API. Its rows depend on the whole database, so
 * a read checks the privilege only (no fixture rows: the filter matches none).
 */
function readOnlyAggregate(table: string, key: string, someId: string): RelationSpec {
  const none = () => Promise.resolve({});
  const snapshot = (s: postgres.Sql) => rowsText(s`select count(*) from ${s(table)}`);
  return {
    key,
    fixtureRows: {},
    select: serviceOnly(rows()),
    insert: {
      expect: all(denied),
      prepare: none,
      request: () => ({ method: "POST", path: "", body: { [key]: someId } }),
      snapshot,
    },
    update: {
      expect: all(denied),
      prepare: none,
      request: () => ({ method: "PATCH", path: `?${key}=eq.${someId}`, body: { users: 0 } }),
      snapshot,
    },
    delete: {
      expect: all(denied),
      prepare: none,
      request: () => ({ method: "DELETE", path: `?${key}=eq.${someId}` }),
      snapshot,
    },
  };
}

function relations(f: Fixture, sql: postgres.Sql): Record<string, RelationSpec> {
  const ownConnection = () => freshOwnerConnection(sql, f);
  const usersOf = { owner: f.users.owner.id, other: f.users.other.id, admin: f.users.admin.id };

  // A view is read-only for everyone: no grant but SELECT, and an INSTEAD OF trigger so
  // that PostgreSQL checks privileges before anything else: 42501 "permission denied for
  // view" (401/403), never 55000 "cannot insert into view" (a 500, issue 12 item 7).
  const readOnlyView = (
    row: (target: Record<string, string>) => Record<string, unknown>,
    filter: (target: Record<string, string>) => string,
  ): Pick<RelationSpec, "insert" | "update" | "delete"> => {
    const snapshot = (s: postgres.Sql, t: Record<string, string>) =>
      rowsText(s`select c.*, h from agent_mcp_connections as c
          left join agent_mcp_connection_health as h on h.connection_id = c.id
          where c.agent_id = ${t.agent!}`);
    return {
      insert: {
        expect: all(denied),
        prepare: async () => ({ agent: await freshOwnerAgent(sql, f) }),
        request: (t) => ({ method: "POST", path: "", body: row(t) }),
        snapshot,
      },
      update: {
        expect: all(denied),
        prepare: ownConnection,
        request: (t) => ({ method: "PATCH", path: `?${filter(t)}`, body: row(t) }),
        snapshot,
      },
      delete: {
        expect: all(denied),
        prepare: ownConnection,
        request: (t) => ({ method: "DELETE", path: `?${filter(t)}` }),
        snapshot,
      },
    };
  };

  return {
    agent_mcp_connections: {
      key: "id",
      fixtureRows: f.connections,
      //            anon    owner          other          admin          service_role
      select: by(
        denied,
        rows("owner"),
        rows("other"),
        rows("admin"),
        rows("owner", "other", "admin"),
      ),
      insert: {
        expect: by(denied, written, rls, rls, written),
        prepare: async () => ({ agent: await freshOwnerAgent(sql, f) }),
        request: (t) => ({
          method: "POST",
          path: "",
          body: { agent_id: t.agent, mcp_server_instance_id: f.s1, connection_config: {} },
        }),
        snapshot: (s, t) => agentConnectionsSnapshot(s, t.agent!),
      },
      update: {
        expect: by(denied, written, filtered, filtered, written),
        prepare: ownConnection,
        request: (t) => ({
          method: "PATCH",
          path: `?id=eq.${t.connection}`,
          body: { connection_config: { timeout: 4321 } },
        }),
        snapshot: (s, t) => connectionSnapshot(s, t.connection!),
      },
      delete: {
        expect: by(denied, written, filtered, filtered, written),
        prepare: ownConnection,
        request: (t) => ({ method: "DELETE", path: `?id=eq.${t.connection}` }),
        snapshot: (s, t) => connectionSnapshot(s, t.connection!),
      },
    },

    active_agent_mcp_connections: {
      key: "id",
      fixtureRows: f.connections,
      select: by(
        denied,
        rows("owner"),
        rows("other"),
        rows("admin"),
        rows("owner", "other", "admin"),
      ),
      ...readOnlyView(
        (t) => ({ agent_id: t.agent, mcp_server_instance_id: f.s1, connection_status: "error" }),
        (t) => `id=eq.${t.connection}`,
      ),
    },

    user_mcp_connection_stats: {
      key: "user_id",
      fixtureRows: usersOf,
      select: by(
        denied,
        rows("owner"),
        rows("other"),
        rows("admin"),
        rows("owner", "other", "admin"),
      ),
      ...readOnlyView(
        () => ({ user_id: f.users.owner.id, total_connections: 0 }),
        () => `user_id=eq.${f.users.owner.id}`,
      ),
    },

    agent_mcp_connection_health_summary: {
      key: "connection_id",
      fixtureRows: f.connections,
      select: by(
        denied,
        rows("owner"),
        rows("other"),
        rows("admin"),
        rows("owner", "other", "admin"),
      ),
      ...readOnlyView(
        (t) => ({ connection_id: t.connection ?? crypto.randomUUID(), consecutive_failures: 9 }),
        (t) => `connection_id=eq.${t.connection}`,
      ),
    },

    agent_mcp_connection_health: {
      key: "connection_id",
      fixtureRows: f.connections,
      select: by(
        denied,
        rows("owner"),
        rows("other"),
        rows("admin"),
        rows("owner", "other", "admin"),
      ),
      insert: {
        expect: serviceOnly(written),
        prepare: ownConnection,
        request: (t) => ({
          method: "POST",
          path: "",
          body: { connection_id: t.connection, consecutive_failures: 7 },
        }),
        snapshot: (s, t) =>
          rowsText(
            s`select * from agent_mcp_connection_health where connection_id = ${t.connection!}`,
          ),
      },
      update: {
        expect: serviceOnly(written),
        prepare: () => freshOwnerConnection(sql, f, { health: true }),
        request: (t) => ({
          method: "PATCH",
          path: `?connection_id=eq.${t.connection}`,
          body: { consecutive_failures: 99 },
        }),
        snapshot: (s, t) =>
          rowsText(
            s`select * from agent_mcp_connection_health where connection_id = ${t.connection!}`,
          ),
      },
      delete: {
        expect: serviceOnly(written),
        prepare: () => freshOwnerConnection(sql, f, { health: true }),
        request: (t) => ({ method: "DELETE", path: `?connection_id=eq.${t.connection}` }),
        snapshot: (s, t) =>
          rowsText(
            s`select * from agent_mcp_connection_health where connection_id = ${t.connection!}`,
          ),
      },
    },

    mcp_health_checks: {
      key: "id",
      fixtureRows: f.checks,
      // Users read the checks written for their own targets (the owner is in every row).
      select: by(
        denied,
        rows("owner"),
        rows("other"),
        rows("admin"),
        rows("owner", "other", "admin"),
      ),
      insert: {
        expect: serviceOnly(written),
        prepare: () => Promise.resolve({ key: `rls-${crypto.randomUUID()}` }),
        request: (t) => ({
          method: "POST",
          path: "",
          body: {
            run_id: f.run,
            mcp_server_instance_id: f.s1,
            owner_id: f.users.owner.id,
            target_key: t.key,
            success: true,
          },
        }),
        snapshot: (s, t) =>
          rowsText(s`select * from mcp_health_checks where target_key = ${t.key!}`),
      },
      update: {
        expect: serviceOnly(written),
        prepare: () => freshCheck(sql, f),
        request: (t) => ({
          method: "PATCH",
          path: `?id=eq.${t.check}`,
          body: { latency_ms: 99999 },
        }),
        snapshot: (s, t) => rowsText(s`select * from mcp_health_checks where id = ${t.check!}`),
      },
      delete: {
        expect: serviceOnly(written),
        prepare: () => freshCheck(sql, f),
        request: (t) => ({ method: "DELETE", path: `?id=eq.${t.check}` }),
        snapshot: (s, t) => rowsText(s`select * from mcp_health_checks where id = ${t.check!}`),
      },
    },

    mcp_health_check_runs: {
      key: "id",
      fixtureRows: { run: f.run },
      select: serviceOnly(rows("run")),
      insert: {
        expect: serviceOnly(written),
        prepare: () => Promise.resolve({ run: crypto.randomUUID() }),
        request: (t) => ({
          method: "POST",
          path: "",
          body: {
            id: t.run,
            started_at: "2026-01-01T00:00:00Z",
            lease_expires_at: "2026-01-01T00:01:00Z",
            finished_at: "2026-01-01T00:01:00Z",
          },
        }),
        snapshot: (s, t) => rowsText(s`select * from mcp_health_check_runs where id = ${t.run!}`),
      },
      update: {
        expect: serviceOnly(written),
        prepare: () => freshRun(sql),
        request: (t) => ({ method: "PATCH", path: `?id=eq.${t.run}`, body: { duration_ms: 42 } }),
        snapshot: (s, t) => rowsText(s`select * from mcp_health_check_runs where id = ${t.run!}`),
      },
      delete: {
        expect: serviceOnly(written),
        prepare: () => freshRun(sql),
        request: (t) => ({ method: "DELETE", path: `?id=eq.${t.run}` }),
        snapshot: (s, t) => rowsText(s`select * from mcp_health_check_runs where id = ${t.run!}`),
      },
    },

    // Written only by the usage function (its private writer) and service_role; users read
    // the buckets of their own agents.
    agent_mcp_connection_usage_buckets: {
      key: "connection_id",
      fixtureRows: f.bucketConnections,
      select: by(
        denied,
        rows("owner"),
        rows("other"),
        rows("admin"),
        rows("owner", "other", "admin"),
      ),
      insert: {
        expect: serviceOnly(written),
        prepare: ownConnection,
        request: (t) => ({
          method: "POST",
          path: "",
          body: {
            connection_id: t.connection,
            agent_id: t.agent,
            granularity: "hour",
            bucket_start: new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString(),
            requests: 1000000,
            successes: 1000000,
            failures: 0,
          },
        }),
        snapshot: (s, t) => bucketsSnapshot(s, t.connection!),
      },
      update: {
        expect: serviceOnly(written),
        prepare: () => freshBucket(sql, f),
        request: (t) => ({
          method: "PATCH",
          path: `?connection_id=eq.${t.connection}`,
          body: { bytes: 123456789 },
        }),
        snapshot: (s, t) => bucketsSnapshot(s, t.connection!),
      },
      delete: {
        expect: serviceOnly(written),
        prepare: () => freshBucket(sql, f),
        request: (t) => ({ method: "DELETE", path: `?connection_id=eq.${t.connection}` }),
        snapshot: (s, t) => bucketsSnapshot(s, t.connection!),
      },
    },

    // The recommendations' settings and k-anonymous aggregates: the refresh writes them,
    // service_role reads them (and tunes the settings), users only through
    // agent_mcp_recommendations().
    agent_mcp_recommendation_settings: {
      key: "id",
      fixtureRows: { settings: "true" },
      select: serviceOnly(rows("settings")),
      // Cells run side by side: a write is seen by the row count (insert, delete) or by
      // the cell's own value (update).
      insert: {
        expect: all(denied),
        prepare: () => Promise.resolve({}),
        request: () => ({ method: "POST", path: "", body: { id: false, min_users: 5 } }),
        snapshot: (s) => rowsText(s`select count(*) from agent_mcp_recommendation_settings`),
      },
      update: {
        expect: serviceOnly(written),
        // A value of this cell's own (101..999 partners): its snapshot sees only its write.
        prepare: () => Promise.resolve({ partners: String(101 + Math.floor(Math.random() * 899)) }),
        request: (t) => ({
          method: "PATCH",
          path: "?id=eq.true",
          body: { partners_per_server: Number(t.partners) },
        }),
        snapshot: (s, t) =>
          rowsText(
            s`select partners_per_server = ${Number(t.partners)} as applied
              from agent_mcp_recommendation_settings`,
          ),
      },
      delete: {
        expect: all(denied),
        prepare: () => Promise.resolve({}),
        request: () => ({ method: "DELETE", path: "?id=eq.true" }),
        snapshot: (s) => rowsText(s`select count(*) from agent_mcp_recommendation_settings`),
      },
    },
    agent_mcp_recommendation_servers: readOnlyAggregate(
      "agent_mcp_recommendation_servers",
      "mcp_server_instance_id",
      f.s1,
    ),
    agent_mcp_recommendation_pairs: readOnlyAggregate(
      "agent_mcp_recommendation_pairs",
      "mcp_server_instance_id",
      f.s1,
    ),

    mcp_health_check_batches: {
      key: "id",
      fixtureRows: { batch: f.batch },
      select: serviceOnly(rows("batch")),
      insert: {
        expect: serviceOnly(written),
        prepare: () => Promise.resolve({ no: String(1 + Math.floor(Math.random() * 1e9)) }),
        request: (t) => ({
          method: "POST",
          path: "",
          body: { run_id: f.run, batch_no: Number(t.no), targets: [], target_count: 0 },
        }),
        snapshot: (s, t) =>
          rowsText(
            s`select * from mcp_health_check_batches where run_id = ${f.run} and batch_no = ${
              Number(
                t.no,
              )
            }`,
          ),
      },
      update: {
        expect: serviceOnly(written),
        prepare: () => freshBatch(sql, f),
        request: (t) => ({ method: "PATCH", path: `?id=eq.${t.batch}`, body: { attempts: 7 } }),
        snapshot: (s, t) =>
          rowsText(s`select * from mcp_health_check_batches where id = ${t.batch!}`),
      },
      delete: {
        expect: serviceOnly(written),
        prepare: () => freshBatch(sql, f),
        request: (t) => ({ method: "DELETE", path: `?id=eq.${t.batch}` }),
        snapshot: (s, t) =>
          rowsText(s`select * from mcp_health_check_batches where id = ${t.batch!}`),
      },
    },

    account_tool_instance_secrets: {
      key: "instance_id",
      fixtureRows: { S2: f.s2 },
      select: serviceOnly(rows("S2")),
      insert: {
        expect: serviceOnly(written),
        prepare: async () => ({ server: await createServer(sql, UNUSED_URL, "RLS fresh server") }),
        request: (t) => ({
          method: "POST",
          path: "",
          body: { instance_id: t.server, secret: { token: "planted" } },
        }),
        snapshot: (s, t) =>
          rowsText(s`select * from account_tool_instance_secrets where instance_id = ${t.server!}`),
      },
      update: {
        expect: serviceOnly(written),
        prepare: () => freshSecret(sql),
        request: (t) => ({
          method: "PATCH",
          path: `?instance_id=eq.${t.server}`,
          body: { secret: { token: "replaced" } },
        }),
        snapshot: (s, t) =>
          rowsText(s`select * from account_tool_instance_secrets where instance_id = ${t.server!}`),
      },
      delete: {
        expect: serviceOnly(written),
        prepare: () => freshSecret(sql),
        request: (t) => ({ method: "DELETE", path: `?instance_id=eq.${t.server}` }),
        snapshot: (s, t) =>
          rowsText(s`select * from account_tool_instance_secrets where instance_id = ${t.server!}`),
      },
    },

    agents: {
      key: "id",
      fixtureRows: {
        owner: f.users.owner.agentId,
        other: f.users.other.agentId,
        admin: f.users.admin.agentId,
      },
      select: by(
        denied,
        rows("owner"),
        rows("other"),
        rows("admin"),
        rows("owner", "other", "admin"),
      ),
      insert: {
        expect: by(denied, written, rls, rls, written),
        prepare: () => Promise.resolve({ agent: crypto.randomUUID() }),
        request: (t) => ({
          method: "POST",
          path: "",
          body: { id: t.agent, user_id: f.users.owner.id, name: "Planted agent" },
        }),
        snapshot: (s, t) => rowsText(s`select * from agents where id = ${t.agent!}`),
      },
      update: {
        expect: by(denied, written, filtered, filtered, written),
        prepare: async () => ({ agent: await freshOwnerAgent(sql, f) }),
        request: (t) => ({ method: "PATCH", path: `?id=eq.${t.agent}`, body: { name: "Renamed" } }),
        snapshot: (s, t) => rowsText(s`select * from agents where id = ${t.agent!}`),
      },
      delete: {
        expect: by(denied, written, filtered, filtered, written),
        prepare: async () => ({ agent: await freshOwnerAgent(sql, f) }),
        request: (t) => ({ method: "DELETE", path: `?id=eq.${t.agent}` }),
        snapshot: (s, t) => rowsText(s`select * from agents where id = ${t.agent!}`),
      },
    },

    account_tool_instances: {
      key: "id",
      fixtureRows: { S1: f.s1, S2: f.s2 },
      select: by(denied, rows("S1", "S2"), rows("S1", "S2"), rows("S1", "S2"), rows("S1", "S2")),
      insert: {
        expect: by(denied, rls, rls, written, written),
        prepare: () => Promise.resolve({ server: crypto.randomUUID() }),
        request: (t) => ({
          method: "POST",
          path: "",
          body: {
            id: t.server,
            instance_name_on_toolbox: "Rogue",
            mcp_server_url: "http://10.0.0.1/mcp",
          },
        }),
        snapshot: (s, t) =>
          rowsText(s`select * from account_tool_instances where id = ${t.server!}`),
      },
      update: {
        expect: by(denied, filtered, filtered, written, written),
        prepare: async () => ({ server: await createServer(sql, UNUSED_URL, "RLS fresh server") }),
        request: (t) => ({
          method: "PATCH",
          path: `?id=eq.${t.server}`,
          body: { mcp_server_url: "http://169.254.169.254/latest/meta-data/" },
        }),
        snapshot: (s, t) =>
          rowsText(s`select * from account_tool_instances where id = ${t.server!}`),
      },
      delete: {
        expect: by(denied, filtered, filtered, written, written),
        prepare: async () => ({ server: await createServer(sql, UNUSED_URL, "RLS fresh server") }),
        request: (t) => ({ method: "DELETE", path: `?id=eq.${t.server}` }),
        snapshot: (s, t) =>
          rowsText(s`select * from account_tool_instances where id = ${t.server!}`),
      },
    },

    user_roles: {
      key: "user_id",
      fixtureRows: usersOf,
      select: by(denied, rows(), rows(), rows("admin"), rows("admin")),
      insert: {
        expect: serviceOnly(written),
        prepare: () => freshUserId(sql),
        request: (t) => ({ method: "POST", path: "", body: { user_id: t.user, role: "admin" } }),
        snapshot: (s, t) => rowsText(s`select * from user_roles where user_id = ${t.user!}`),
      },
      update: {
        expect: serviceOnly(written),
        prepare: () => freshUserId(sql, "viewer"),
        request: (t) => ({
          method: "PATCH",
          path: `?user_id=eq.${t.user}`,
          body: { role: "admin" },
        }),
        snapshot: (s, t) => rowsText(s`select * from user_roles where user_id = ${t.user!}`),
      },
      delete: {
        expect: serviceOnly(written),
        prepare: () => freshUserId(sql, "viewer"),
        request: (t) => ({ method: "DELETE", path: `?user_id=eq.${t.user}` }),
        snapshot: (s, t) => rowsText(s`select * from user_roles where user_id = ${t.user!}`),
      },
    },
  };
}

async function freshCheck(sql: postgres.Sql, f: Fixture): Promise<Record<string, string>> {
  const [row] = await sql<[{ id: string }]>`
    insert into mcp_health_checks (run_id, mcp_server_instance_id, owner_id, target_key, success)
    values (${f.run}, ${f.s1}, ${f.users.owner.id}, ${"rls-" + crypto.randomUUID()}, true)
    returning id::text
  `;
  return { check: row.id };
}

async function freshBatch(sql: postgres.Sql, f: Fixture): Promise<Record<string, string>> {
  const [row] = await sql<[{ id: string }]>`
    insert into mcp_health_check_batches (run_id, batch_no, targets, target_count)
    values (${f.run}, ${1 + Math.floor(Math.random() * 1e9)}, '[]', 0) returning id::text
  `;
  return { batch: row.id };
}

async function freshRun(sql: postgres.Sql): Promise<Record<string, string>> {
  const [row] = await sql<[{ id: string }]>`
    insert into mcp_health_check_runs (started_at, lease_expires_at, finished_at)
    values ('2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', '2026-01-01T00:01:00Z') returning id
  `;
  return { run: row.id };
}

async function freshSecret(sql: postgres.Sql): Promise<Record<string, string>> {
  const server = await createServer(sql, UNUSED_URL, "RLS fresh server");
  await sql`insert into account_tool_instance_secrets (instance_id, secret) values (${server}, '{"token": "t"}')`;
  return { server };
}

async function freshUserId(sql: postgres.Sql, role?: string): Promise<Record<string, string>> {
  const user = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${user}, ${`rls-${user}@tests.local`})`;
  if (role) await sql`insert into user_roles (user_id, role) values (${user}, ${role})`;
  return { user };
}

function relationCells(f: Fixture, sql: postgres.Sql): Cell[] {
  const cells: Cell[] = [];
  for (const [name, spec] of Object.entries(relations(f, sql))) {
    for (const role of ROLES) {
      cells.push({
        object: name,
        action: "select",
        role,
        expect: spec.select[role],
        key: spec.key,
        names: namesOf(spec.fixtureRows),
        request: () => ({
          method: "GET",
          path: `/rest/v1/${name}?select=${spec.key}&${spec.key}=${
            inList(Object.values(spec.fixtureRows))
          }`,
        }),
      });
      for (const action of ["insert", "update", "delete"] as const) {
        const write = spec[action];
        cells.push({
          object: name,
          action,
          role,
          expect: write.expect[role],
          prepare: write.prepare,
          request: (t) => {
            const r = write.request(t);
            return { ...r, path: `/rest/v1/${name}${r.path}` };
          },
          snapshot: write.snapshot,
        });
      }
    }
  }
  return cells;
}

// --- functions (RPC) -----------------------------------------------------------------

interface RpcSpec {
  expect: ByRole;
  args?: (target: Record<string, string>, f: Fixture) => Record<string, unknown>;
  prepare?: (sql: postgres.Sql) => Promise<Record<string, string>>;
  snapshot?: (sql: postgres.Sql, target: Record<string, string>) => Promise<string>;
  /** A filter on the rows a set-returning function gives (its fixture rows). */
  filter?: (f: Fixture) => string;
  names?: (f: Fixture) => Record<string, string>;
  /** The row key of a set-returning function's rows (default `id`). */
  key?: string;
}

const VALID_EVENT = { success: true, responseTimeMs: 5, bytesTransferred: 10 };
/** The report functions' range: the last 24 hours. */
const lastDay = () => ({
  p_from: new Date(Date.now() - 86_400_000).toISOString(),
  p_to: new Date().toISOString(),
});
const helper = (v: unknown): ByRole => by(denied, value(v), value(v), value(v), value(v));

/** Every function in public by signature, with what each role gets from it. */
function rpcSpecs(f: Fixture, sql: postgres.Sql): Record<string, RpcSpec> {
  const ownConnection = () => freshOwnerConnection(sql, f);
  const connection = (s: postgres.Sql, t: Record<string, string>) =>
    connectionSnapshot(s, t.connection!);
  const connectionNames = () => namesOf(f.connections);
  const serverCredentials = (s: postgres.Sql, t: Record<string, string>) =>
    rowsText(s`select version, credentials from agent_mcp_secrets.mcp_server_credentials
               where server_id = ${t.server!}`);
  return {
    // The caller's own answer only: there is no way to ask about another user.
    "is_admin()": { expect: by(denied, value(false), value(false), value(true), value(false)) },
    "auth_user_exists()": {
      expect: by(denied, value(true), value(true), value(true), value(false)),
    },

    // Admins only, checked by the function (service_role has no user, so no admin role).
    "admin_list_agent_mcp_connections(integer,timestamp with time zone,uuid,boolean)": {
      expect: by(
        denied,
        refused("PT403", 403),
        refused("PT403", 403),
        rows("owner", "other", "admin"),
        refused("PT403", 403),
      ),
      args: () => ({ p_limit: 1000 }),
      filter: (fx) => `id=${inList(Object.values(fx.connections))}`,
      names: connectionNames,
    },
    "admin_agent_mcp_connection_stats()": {
      expect: by(
        denied,
        refused("PT403", 403),
        refused("PT403", 403),
        answered,
        refused("PT403", 403),
      ),
    },

    // SECURITY INVOKER: RLS decides; another user's connection is "not found" (PT404).
    "record_agent_mcp_connection_usage(uuid,jsonb)": {
      expect: by(denied, written, refused("PT404", 404), refused("PT404", 404), written),
      prepare: ownConnection,
      args: (t) => ({ p_connection_id: t.connection, p_events: [VALID_EVENT] }),
      snapshot: connection,
    },
    "connect_agent_mcp_server(uuid,uuid,jsonb)": {
      expect: by(denied, written, refused("PT404", 404), refused("PT404", 404), written),
      prepare: async () => ({ agent: await freshOwnerAgent(sql, f) }),
      args: (t, fx) => ({ p_agent_id: t.agent, p_mcp_server_instance_id: fx.s1 }),
      snapshot: (s, t) => agentConnectionsSnapshot(s, t.agent!),
    },
    "update_agent_mcp_connection_config(uuid,jsonb)": {
      expect: by(denied, written, refused("PT404", 404), refused("PT404", 404), written),
      prepare: ownConnection,
      args: (t) => ({ p_connection_id: t.connection, p_connection_config: { timeout: 4321 } }),
      snapshot: connection,
    },
    "disconnect_agent_mcp_connection(uuid)": {
      expect: by(denied, written, refused("PT404", 404), refused("PT404", 404), written),
      prepare: ownConnection,
      args: (t) => ({ p_connection_id: t.connection }),
      snapshot: connection,
    },
    "begin_agent_mcp_connection_test(uuid)": {
      expect: by(denied, written, refused("PT404", 404), refused("PT404", 404), written),
      prepare: ownConnection,
      args: (t) => ({ p_connection_id: t.connection }),
      snapshot: connection,
    },
    "finish_agent_mcp_connection_test(uuid,jsonb,text)": {
      expect: by(denied, written, refused("PT404", 404), refused("PT404", 404), written),
      prepare: ownConnection,
      args: (t) => ({ p_connection_id: t.connection, p_result: { success: true } }),
      snapshot: connection,
    },

    // The health check's own functions: service_role only.
    "mcp_health_check_targets(uuid[],uuid[],integer,integer,text)": {
      expect: serviceOnly(rows("S1")),
      args: (_t, fx) => ({ p_server_ids: [fx.s1] }),
      names: (fx) => ({ [fx.s1]: "S1" }),
      key: "mcp_server_instance_id",
    },
    "begin_mcp_health_check_run(integer,integer,uuid[],uuid[],integer,integer,integer,integer,jsonb)":
      {
        // Refused for service_role too: the lease must be 1 to 3600 s (nothing starts).
        expect: serviceOnly(refused("22023", 400)),
        args: () => ({ p_lease_seconds: 0 }),
        snapshot: (s) => rowsText(s`select count(*) from mcp_health_check_runs`),
      },
    "claim_mcp_health_check_batch(uuid,integer,integer)": {
      // Refused for service_role too: the lease must be 1 to 3600 s (nothing is claimed).
      expect: serviceOnly(refused("22023", 400)),
      args: (_t, fx) => ({ p_run_id: fx.run, p_lease_seconds: 0 }),
      snapshot: (s) => rowsText(s`select * from mcp_health_check_batches order by id`),
    },
    "record_mcp_health_check_batch(bigint,uuid,jsonb,jsonb)": {
      // A batch this claim does not hold may not be written (55000).
      expect: serviceOnly(refused("55000", 500)),
      args: (_t, fx) => ({
        p_batch_id: Number(fx.batch),
        p_claim: crypto.randomUUID(),
        p_results: [],
      }),
    },
    "extend_mcp_health_check_batch_lease(bigint,uuid)": {
      // A claim that does not hold the batch renews nothing.
      expect: serviceOnly(value(false)),
      args: (_t, fx) => ({ p_batch_id: Number(fx.batch), p_claim: crypto.randomUUID() }),
    },
    "finish_mcp_health_check_run(uuid)": {
      // The fixture's run has ended already.
      expect: serviceOnly(value(true)),
      args: (_t, fx) => ({ p_run_id: fx.run }),
    },
    "mcp_health_check_run_state(uuid)": {
      expect: serviceOnly(value(null)),
      args: () => ({ p_run_id: crypto.randomUUID() }),
    },
    "mcp_url_origin(text)": {
      expect: serviceOnly(value("http://127.0.0.1:9")),
      args: () => ({ url: "HTTP://127.0.0.1:9/mcp?x=1" }),
    },

    // Pure helpers of constraints, policies and usage recording: signed-in users and
    // service_role (the check constraints run them as the caller), never anon.
    "jsonb_is_integer_between(jsonb,numeric,numeric)": {
      expect: helper(true),
      args: () => ({ value: 5, low: 1, high: 10 }),
    },
    "validate_custom_headers(jsonb)": {
      expect: helper(true),
      args: () => ({ headers: { "X-Key": "v" } }),
    },
    "validate_connection_config(jsonb)": {
      expect: helper(false),
      args: () => ({ config: { timeout: "abc" } }),
    },
    "usage_stat(jsonb,text)": {
      expect: helper(2),
      args: () => ({ stats: { totalRequests: 2 }, stat_name: "totalRequests" }),
    },
    "is_valid_usage_event(jsonb)": { expect: helper(true), args: () => ({ event: VALID_EVENT }) },
    "probe_target_key(jsonb)": {
      expect: helper(f.targetKeyOfTimeout5000),
      args: () => ({ config: { timeout: 5000 } }),
    },
    "probe_target_key(uuid,jsonb)": {
      expect: helper(f.ownerTargetKeyOfTimeout5000),
      args: (_t, fx) => ({ owner_id: fx.users.owner.id, config: { timeout: 5000 } }),
    },

    // Usage history and reports. SECURITY INVOKER: RLS decides; another user's
    // connection is "not found". service_role bypasses RLS and reads any.
    "fold_agent_mcp_usage_buckets(interval)": {
      expect: serviceOnly(value(0)),
      args: () => ({ p_keep_hourly: "30 days" }),
    },
    "agent_mcp_connection_usage_series(uuid,timestamp with time zone,timestamp with time zone,text)":
      {
        expect: by(denied, answered, refused("PT404", 404), refused("PT404", 404), answered),
        args: (_t, fx) => ({
          p_connection_id: fx.bucketConnections.owner,
          ...lastDay(),
          p_bucket: "hour",
        }),
      },
    "agent_mcp_connection_health_series(uuid,timestamp with time zone,timestamp with time zone,text)":
      {
        expect: by(denied, answered, refused("PT404", 404), refused("PT404", 404), answered),
        args: (_t, fx) => ({
          p_connection_id: fx.connections.owner,
          ...lastDay(),
          p_bucket: "hour",
        }),
      },
    "agent_mcp_usage_series(timestamp with time zone,timestamp with time zone,text)": {
      expect: by(denied, answered, answered, answered, answered),
      args: () => ({ ...lastDay(), p_bucket: "hour" }),
    },
    "agent_mcp_usage_by_connection(timestamp with time zone,timestamp with time zone)": {
      expect: by(denied, answered, answered, answered, answered),
      args: () => lastDay(),
    },
    "admin_agent_mcp_usage_series(timestamp with time zone,timestamp with time zone,text)": {
      expect: by(
        denied,
        refused("PT403", 403),
        refused("PT403", 403),
        answered,
        refused("PT403", 403),
      ),
      args: () => ({ ...lastDay(), p_bucket: "hour" }),
    },
    "admin_agent_mcp_usage_by_user(timestamp with time zone,timestamp with time zone)": {
      expect: by(
        denied,
        refused("PT403", 403),
        refused("PT403", 403),
        answered,
        refused("PT403", 403),
      ),
      args: () => lastDay(),
    },

    // Recommendations: only for the caller's own agent (service_role has no user); the
    // refresh and its rounding are the scheduler's.
    "agent_mcp_recommendations(uuid,integer)": {
      expect: by(
        denied,
        answered,
        refused("PT404", 404),
        refused("PT404", 404),
        refused("PT404", 404),
      ),
      args: (_t, fx) => ({ p_agent_id: fx.users.owner.agentId, p_limit: 5 }),
    },
    "agent_mcp_recommendation_round_count(integer)": {
      expect: serviceOnly(answered),
      args: () => ({ n: 37 }),
    },
    "refresh_agent_mcp_recommendations()": { expect: serviceOnly(answered) },

    // Server credentials (issue 15): the service role's alone; an admin's JWT is no key.
    "set_mcp_server_credentials(uuid,jsonb)": {
      expect: serviceOnly(written),
      prepare: async () => ({ server: await createServer(sql, "http://127.0.0.1:9/mcp") }),
      args: (t) => ({
        p_server_id: t.server,
        p_credentials: { kind: "headers", headers: { "X-Api-Key": "matrix-cell" } },
      }),
      snapshot: serverCredentials,
    },
    "delete_mcp_server_credentials(uuid)": {
      expect: serviceOnly(written),
      prepare: async () => {
        const server = await createServer(sql, "http://127.0.0.1:9/mcp");
        await sql`select set_mcp_server_credentials(${server},
          '{"kind": "headers", "headers": {"X-Api-Key": "matrix-cell"}}')`;
        return { server };
      },
      args: (t) => ({ p_server_id: t.server }),
      snapshot: serverCredentials,
    },
    "list_mcp_server_credentials()": { expect: serviceOnly(answered) },
    "mcp_server_probe_credentials(uuid[])": {
      expect: serviceOnly(answered),
      args: (_t, fx) => ({ p_server_ids: [fx.s1, fx.s2] }),
    },

    // Trigger functions: PostgREST does not expose them, and nobody may execute them.
    "update_agent_mcp_connections_updated_at()": { expect: all(absent) },
    "agent_mcp_connections_check_creator()": { expect: all(absent) },
    "agent_mcp_connections_guard_update()": { expect: all(absent) },
  };
}

function rpcCells(f: Fixture, sql: postgres.Sql): Cell[] {
  return Object.entries(rpcSpecs(f, sql)).flatMap(([signature, spec]) => {
    const name = signature.slice(0, signature.indexOf("("));
    return ROLES.map((role): Cell => ({
      object: `rpc ${signature}`,
      action: "execute",
      role,
      expect: spec.expect[role],
      prepare: spec.prepare,
      snapshot: spec.snapshot,
      names: spec.names?.(f),
      key: spec.key,
      request: (t) => ({
        method: "POST",
        path: `/rest/v1/rpc/${name}${spec.filter ? `?${spec.filter(f)}` : ""}`,
        body: spec.args?.(t, f) ?? {},
      }),
    }));
  });
}

// --- named attacks -------------------------------------------------------------------------

function attackCells(f: Fixture, sql: postgres.Sql): Cell[] {
  const connection = (s: postgres.Sql, t: Record<string, string>) =>
    connectionSnapshot(s, t.connection!);
  const patchConnection = (body: Record<string, unknown>) => (t: Record<string, string>) => ({
    method: "PATCH",
    path: `/rest/v1/agent_mcp_connections?id=eq.${t.connection}`,
    body,
  });
  const cell = (
    role: Role,
    action: string,
    expect: Expect,
    rest: Pick<Cell, "prepare" | "request" | "snapshot" | "names">,
  ): Cell => ({ object: "attack", action, role, expect, ...rest });
  const ownConnection = () => freshOwnerConnection(sql, f);

  return [
    cell("owner", "move a connection to another user's agent", denied, {
      prepare: ownConnection,
      request: patchConnection({ agent_id: f.users.other.agentId }),
      snapshot: connection,
    }),
    cell("owner", "move a connection to another of their own agents", denied, {
      prepare: ownConnection,
      request: patchConnection({ agent_id: f.users.owner.agentId }),
      snapshot: connection,
    }),
    cell("owner", "change created_by to another user", denied, {
      prepare: ownConnection,
      request: patchConnection({ created_by: f.users.other.id }),
      snapshot: connection,
    }),
    cell("owner", "clear created_by", denied, {
      prepare: ownConnection,
      request: patchConnection({ created_by: null }),
      snapshot: connection,
    }),
    cell("owner", "change created_at", denied, {
      prepare: ownConnection,
      request: patchConnection({ created_at: "2000-01-01T00:00:00Z" }),
      snapshot: connection,
    }),
    cell("owner", "reactivate a disconnected connection", refused("23514", 400), {
      prepare: () => freshOwnerConnection(sql, f, { active: false }),
      request: patchConnection({ is_active: true }),
      snapshot: connection,
    }),
    // Issue 12 item 2: users write only what they own by intent (config, disconnecting);
    // status, test result, usage and last use are the module's to write.
    ...(
      [
        ["forge usage_stats (a negative count: POST /usage divided by zero)", {
          usage_stats: { totalRequests: -1 },
        }],
        ["reset usage_stats", { usage_stats: {} }],
        ["set last_used", { last_used: "2000-01-01T00:00:00Z" }],
        ["forge connection_status", { connection_status: "connected" }],
        ["store a 2 MB connection_test_result", {
          connection_test_result: { success: true, padding: "x".repeat(2_000_000) },
        }],
        ["disconnect and forge the status in one PATCH", {
          is_active: false,
          connection_status: "error",
        }],
        ["set updated_at", { updated_at: "2000-01-01T00:00:00Z" }],
      ] as const
    ).map(([action, body]) =>
      cell("owner", action, denied, {
        prepare: ownConnection,
        request: patchConnection(body),
        snapshot: connection,
      })
    ),
    cell("owner", "choose usage_stats and a status when connecting", denied, {
      prepare: async () => ({ agent: await freshOwnerAgent(sql, f) }),
      request: (t) => ({
        method: "POST",
        path: "/rest/v1/agent_mcp_connections",
        body: {
          agent_id: t.agent,
          mcp_server_instance_id: f.s1,
          usage_stats: { totalRequests: 1e9 },
          connection_status: "connected",
        },
      }),
      snapshot: (s, t) => agentConnectionsSnapshot(s, t.agent!),
    }),
    cell("owner", "disconnect through PostgREST (is_active only)", written, {
      prepare: ownConnection,
      request: patchConnection({ is_active: false }),
      snapshot: connection,
    }),
    cell("owner", "change a disconnected connection's config", refused("PT409", 409), {
      prepare: () => freshOwnerConnection(sql, f, { active: false }),
      request: patchConnection({ connection_config: { timeout: 1234 } }),
      snapshot: connection,
    }),
    // Issue 12 item 3: a server that is not running takes no connection and no test.
    cell("owner", "connect to a stopped server through PostgREST", refused("PT409", 409), {
      prepare: async () => ({ agent: await freshOwnerAgent(sql, f) }),
      request: (t) => ({
        method: "POST",
        path: "/rest/v1/agent_mcp_connections",
        body: { agent_id: t.agent, mcp_server_instance_id: f.stopped },
      }),
      snapshot: (s, t) => agentConnectionsSnapshot(s, t.agent!),
    }),
    cell(
      "owner",
      "connect to a stopped server through connect_agent_mcp_server()",
      refused("PT409", 409),
      {
        prepare: async () => ({ agent: await freshOwnerAgent(sql, f) }),
        request: (t) => ({
          method: "POST",
          path: "/rest/v1/rpc/connect_agent_mcp_server",
          body: { p_agent_id: t.agent, p_mcp_server_instance_id: f.stopped },
        }),
        snapshot: (s, t) => agentConnectionsSnapshot(s, t.agent!),
      },
    ),
    cell("owner", "test a connection to a stopped server", refused("PT409", 409), {
      prepare: () => connectionToStoppedServer(sql, f),
      request: (t) => ({
        method: "POST",
        path: "/rest/v1/rpc/begin_agent_mcp_connection_test",
        body: { p_connection_id: t.connection },
      }),
      snapshot: connection,
    }),
    cell("owner", "create a connection in another user's name", denied, {
      prepare: async () => ({ agent: await freshOwnerAgent(sql, f) }),
      request: (t) => ({
        method: "POST",
        path: "/rest/v1/agent_mcp_connections",
        body: { agent_id: t.agent, mcp_server_instance_id: f.s1, created_by: f.users.other.id },
      }),
      snapshot: (s, t) => agentConnectionsSnapshot(s, t.agent!),
    }),
    // No INSERT privilege on created_by: refused before any policy or trigger runs.
    cell("owner", "connect another user's agent in that user's name", denied, {
      prepare: () => Promise.resolve({ agent: f.users.other.agentId }),
      request: () => ({
        method: "POST",
        path: "/rest/v1/agent_mcp_connections",
        body: {
          agent_id: f.users.other.agentId,
          mcp_server_instance_id: f.s2,
          created_by: f.users.other.id,
        },
      }),
      snapshot: (s) => agentConnectionsSnapshot(s, f.users.other.agentId),
    }),
    cell("other", "move the owner's connection to their own agent", denied, {
      prepare: ownConnection,
      request: patchConnection({ agent_id: f.users.other.agentId }),
      snapshot: connection,
    }),
    cell("admin", "move the owner's connection to the admin's agent", denied, {
      prepare: ownConnection,
      request: patchConnection({ agent_id: f.users.admin.agentId }),
      snapshot: connection,
    }),
    cell("other", "disconnect the owner's connection", filtered, {
      prepare: ownConnection,
      request: patchConnection({ is_active: false }),
      snapshot: connection,
    }),
    cell("owner", "give their agent to another user", rls, {
      prepare: async () => ({ agent: await freshOwnerAgent(sql, f) }),
      request: (t) => ({
        method: "PATCH",
        path: `/rest/v1/agents?id=eq.${t.agent}`,
        body: { user_id: f.users.other.id },
      }),
      snapshot: (s, t) => rowsText(s`select * from agents where id = ${t.agent!}`),
    }),
    cell("owner", "make themselves admin", denied, {
      request: () => ({
        method: "POST",
        path: "/rest/v1/user_roles",
        body: { user_id: f.users.owner.id, role: "admin" },
      }),
      snapshot: (s) => rowsText(s`select * from user_roles where user_id = ${f.users.owner.id}`),
    }),
    cell("owner", "read server secrets through an embed", denied, {
      request: () => ({
        method: "GET",
        path:
          `/rest/v1/account_tool_instances?select=id,account_tool_instance_secrets(secret)&id=eq.${f.s2}`,
      }),
    }),
    cell("admin", "read server secrets through an embed", denied, {
      request: () => ({
        method: "GET",
        path:
          `/rest/v1/account_tool_instances?select=id,account_tool_instance_secrets(secret)&id=eq.${f.s2}`,
      }),
    }),
    cell("owner", "read other users' agents through the connection embed", rows("owner"), {
      names: namesOf(f.connections),
      request: () => ({
        method: "GET",
        path: `/rest/v1/agent_mcp_connections?select=id,agents(user_id)&id=${
          inList(Object.values(f.connections))
        }`,
      }),
    }),
    cell("owner", "ask is_admin() about another user", absent, {
      request: () => ({
        method: "POST",
        path: "/rest/v1/rpc/is_admin",
        body: { p_user_id: f.users.admin.id },
      }),
    }),
    cell("owner", "ask auth_user_exists() about another user", absent, {
      request: () => ({
        method: "POST",
        path: "/rest/v1/rpc/auth_user_exists",
        body: { user_id: f.users.other.id },
      }),
    }),
    cell(
      "owner",
      "list every connection through admin_list_agent_mcp_connections()",
      refused("PT403", 403),
      {
        request: () => ({
          method: "POST",
          path: "/rest/v1/rpc/admin_list_agent_mcp_connections",
          body: { p_limit: 1000, p_active: null },
        }),
      },
    ),
    cell("owner", "record usage on another user's connection", refused("PT404", 404), {
      prepare: () => Promise.resolve({ connection: f.connections.other }),
      request: () => ({
        method: "POST",
        path: "/rest/v1/rpc/record_agent_mcp_connection_usage",
        body: { p_connection_id: f.connections.other, p_events: [VALID_EVENT] },
      }),
      snapshot: connection,
    }),
    cell("owner", "record usage on their own disconnected connection", refused("PT409", 409), {
      prepare: () => freshOwnerConnection(sql, f, { active: false }),
      request: (t) => ({
        method: "POST",
        path: "/rest/v1/rpc/record_agent_mcp_connection_usage",
        body: { p_connection_id: t.connection, p_events: [VALID_EVENT] },
      }),
      snapshot: connection,
    }),
    cell("owner", "store a test result on another user's connection", refused("PT404", 404), {
      prepare: () => Promise.resolve({ connection: f.connections.other }),
      request: () => ({
        method: "POST",
        path: "/rest/v1/rpc/finish_agent_mcp_connection_test",
        body: { p_connection_id: f.connections.other, p_result: { success: false } },
      }),
      snapshot: connection,
    }),
    cell("owner", "start a health check run", denied, {
      request: () => ({
        method: "POST",
        path: "/rest/v1/rpc/begin_mcp_health_check_run",
        body: { p_lease_seconds: 60 },
      }),
      snapshot: (s) => rowsText(s`select count(*) from mcp_health_check_runs`),
    }),
  ];
}

// --- the functions (HTTP API) ----------------------------------------------------------

interface ApiExpect {
  status: number;
  code?: string;
  /** The change is in the database (else: nothing changed). */
  writes?: boolean;
  check?: (body: unknown) => Promise<void> | void;
}

interface ApiCell {
  route: string;
  role: Role;
  expect: ApiExpect;
  prepare?: () => Promise<Record<string, string>>;
  request: (target: Record<string, string>) => HttpRequest;
  snapshot?: (target: Record<string, string>) => Promise<string>;
  /** The function's URL (default mcp-connections). */
  base?: string;
}

function apiCells(f: Fixture, sql: postgres.Sql): ApiCell[] {
  const userJwt = { status: 401, code: "user_jwt_required" };
  const notFound = { status: 404, code: "connection_not_found" };
  const forbidden = { status: 403, code: "forbidden" };
  const own = (role: UserRole) => async (body: unknown) => {
    const agents = (await sql`select id from agents where user_id = ${f.users[role].id}`)
      .map((r) => r.id);
    const items = (body as { items: { agentId: string }[] }).items;
    assert.ok(items.every((item) => agents.includes(item.agentId)), `${role} sees only their own`);
  };
  const stats = (role: UserRole) => async (body: unknown) => {
    const [row] = await sql`select count(*)::int as n from agent_mcp_connections c
      join agents a on a.id = c.agent_id where a.user_id = ${f.users[role].id} and c.is_active`;
    assert.equal((body as { totalConnections: number }).totalConnections, row!.n);
  };
  const seesEveryUser = (body: unknown) => {
    const ids = (body as { items: { id: string }[] }).items.map((i) => i.id);
    for (const id of Object.values(f.connections)) assert.ok(ids.includes(id), `admin sees ${id}`);
  };
  const ownConnection = async () => await freshOwnerConnection(sql, f);
  const connection = (t: Record<string, string>) => connectionSnapshot(sql, t.connection!);
  const perRole = (
    route: string,
    expects: [ApiExpect, ApiExpect, ApiExpect, ApiExpect, ApiExpect],
    rest: Omit<ApiCell, "route" | "role" | "expect">,
  ): ApiCell[] => ROLES.map((role, i) => ({ route, role, expect: expects[i]!, ...rest }));

  return [
    ...perRole("GET /connections", [
      userJwt,
      { status: 200, check: own("owner") },
      { status: 200, check: own("other") },
      { status: 200, check: own("admin") },
      userJwt,
    ], { request: () => ({ method: "GET", path: "/connections?active=all&limit=200" }) }),
    ...perRole("GET /connections/:id (the owner's)", [
      userJwt,
      { status: 200 },
      notFound,
      notFound,
      userJwt,
    ], { request: () => ({ method: "GET", path: `/connections/${f.connections.owner}` }) }),
    ...perRole("PATCH /connections/:id (the owner's)", [
      userJwt,
      { status: 200, writes: true },
      notFound,
      notFound,
      userJwt,
    ], {
      prepare: ownConnection,
      request: (t) => ({
        method: "PATCH",
        path: `/connections/${t.connection}`,
        body: { config: { timeout: 4321 } },
      }),
      snapshot: connection,
    }),
    ...perRole("DELETE /connections/:id (the owner's)", [
      userJwt,
      { status: 200, writes: true },
      notFound,
      notFound,
      userJwt,
    ], {
      prepare: ownConnection,
      request: (t) => ({ method: "DELETE", path: `/connections/${t.connection}` }),
      snapshot: connection,
    }),
    ...perRole("POST /connections/:id/test (the owner's)", [
      userJwt,
      { status: 200, writes: true },
      notFound,
      notFound,
      userJwt,
    ], {
      prepare: ownConnection,
      request: (t) => ({ method: "POST", path: `/connections/${t.connection}/test` }),
      snapshot: connection,
    }),
    ...perRole("POST /connections/:id/usage (the owner's)", [
      userJwt,
      { status: 200, writes: true },
      notFound,
      notFound,
      userJwt,
    ], {
      prepare: ownConnection,
      request: (t) => ({
        method: "POST",
        path: `/connections/${t.connection}/usage`,
        body: VALID_EVENT,
      }),
      snapshot: connection,
    }),
    ...perRole("POST /connections (the owner's agent)", [
      userJwt,
      { status: 201, writes: true },
      { status: 404, code: "agent_not_found" },
      { status: 404, code: "agent_not_found" },
      userJwt,
    ], {
      prepare: async () => ({ agent: await freshOwnerAgent(sql, f) }),
      request: (t) => ({
        method: "POST",
        path: "/connections",
        body: { agentId: t.agent, mcpServerInstanceId: f.s1 },
      }),
      snapshot: (t) => agentConnectionsSnapshot(sql, t.agent!),
    }),
    ...perRole("POST /connections (a stopped server)", [
      userJwt,
      { status: 409, code: "mcp_server_not_running" },
      { status: 404, code: "agent_not_found" },
      { status: 404, code: "agent_not_found" },
      userJwt,
    ], {
      prepare: async () => ({ agent: await freshOwnerAgent(sql, f) }),
      request: (t) => ({
        method: "POST",
        path: "/connections",
        body: { agentId: t.agent, mcpServerInstanceId: f.stopped },
      }),
      snapshot: (t) => agentConnectionsSnapshot(sql, t.agent!),
    }),
    ...perRole("POST /connections/:id/test (the owner's, server stopped)", [
      userJwt,
      { status: 409, code: "mcp_server_not_running" },
      notFound,
      notFound,
      userJwt,
    ], {
      prepare: () => connectionToStoppedServer(sql, f),
      request: (t) => ({ method: "POST", path: `/connections/${t.connection}/test` }),
      snapshot: connection,
    }),
    ...perRole("GET /stats", [
      userJwt,
      { status: 200, check: stats("owner") },
      { status: 200, check: stats("other") },
      { status: 200, check: stats("admin") },
      userJwt,
    ], { request: () => ({ method: "GET", path: "/stats" }) }),
    ...perRole("GET /admin/connections", [
      userJwt,
      forbidden,
      forbidden,
      { status: 200, check: seesEveryUser },
      userJwt,
    ], { request: () => ({ method: "GET", path: "/admin/connections?limit=200" }) }),
    ...perRole("GET /admin/stats", [
      userJwt,
      forbidden,
      forbidden,
      {
        status: 200,
        check: (body) => assert.ok((body as { totalConnections: number }).totalConnections >= 3),
      },
      userJwt,
    ], { request: () => ({ method: "GET", path: "/admin/stats" }) }),
    ...perRole("POST mcp-health-check", [
      forbidden,
      forbidden,
      forbidden,
      forbidden,
      { status: 200, writes: true },
    ], {
      base: `${stack.url}/functions/v1/mcp-health-check`,
      // A run limited to a server that does not exist: it probes nothing, and records the run.
      request: () => ({ method: "POST", path: "", body: { serverIds: [crypto.randomUUID()] } }),
      snapshot: () => rowsText(sql`select count(*) from mcp_health_check_runs`),
    }),
  ];
}

// =============================================================================
// Running a cell
// =============================================================================

function roleHeaders(role: Role, f: Fixture): Record<string, string> {
  if (role === "anon") return { apikey: stack.anonKey };
  if (role === "service_role") {
    return { apikey: stack.serviceRoleKey, authorization: `Bearer ${stack.serviceRoleKey}` };
  }
  return { apikey: stack.anonKey, authorization: `Bearer ${f.users[role].token}` };
}

type Observed =
  | { kind: "rows"; ids: string[]; count: number | null }
  | { kind: "value"; value: unknown }
  | { kind: "error"; status: number; code: string; message: string };

async function send(request: HttpRequest, headers: Record<string, string>, base: string) {
  const response = await fetch(`${base}${request.path}`, {
    method: request.method,
    headers: {
      ...headers,
      ...(request.body === undefined ? {} : { "content-type": "application/json" }),
      prefer: request.method === "GET" ? "count=exact" : "return=representation",
      ...request.headers,
    },
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
  });
  return { status: response.status, headers: response.headers, body: await readBody(response) };
}

function observe(
  res: { status: number; headers: Headers; body: unknown },
  key: string,
): Observed {
  if (res.status >= 200 && res.status < 300) {
    if (Array.isArray(res.body)) {
      const total = res.headers.get("content-range")?.split("/")[1];
      return {
        kind: "rows",
        ids: res.body.map((row) => String((row as Record<string, unknown>)[key])),
        count: total === undefined || total === "*" ? null : Number(total),
      };
    }
    return { kind: "value", value: res.body };
  }
  const body = (res.body ?? {}) as { code?: string; message?: string };
  return {
    kind: "error",
    status: res.status,
    code: body.code ?? "",
    message: body.message ?? String(res.body),
  };
}

interface Verdict {
  cell: string;
  ok: boolean;
  leak: boolean;
  detail: string;
}

/** Compares what a cell observed with what it expects; `changed`: the database moved. */
function judge(
  expect: Expect,
  seen: Observed,
  changed: boolean,
  names: Record<string, string> = {},
): { ok: boolean; leak: boolean; detail: string } {
  const success = seen.kind !== "error";
  const detail = JSON.stringify(seen).slice(0, 300) + (changed ? " (database changed)" : "");
  switch (expect.kind) {
    case "rows": {
      if (seen.kind !== "rows") return { ok: false, leak: false, detail };
      const got = [...new Set(seen.ids.map((id) => names[id] ?? `unknown ${id}`))].sort();
      const want = [...expect.names].sort();
      const extra = got.filter((name) => !want.includes(name));
      const countOk = seen.count === null || seen.count === seen.ids.length;
      return {
        ok: JSON.stringify(got) === JSON.stringify(want) && countOk && !changed,
        leak: extra.length > 0 || !countOk,
        detail: `rows ${JSON.stringify(got)}, count ${seen.count}`,
      };
    }
    case "value":
      return {
        ok: seen.kind === "value" && JSON.stringify(seen.value) === JSON.stringify(expect.value) &&
          !changed,
        leak: false,
        detail,
      };
    case "answered":
      return { ok: success && !changed, leak: false, detail };
    case "written":
      return { ok: success && changed, leak: false, detail };
    case "filtered":
      return {
        ok: seen.kind === "rows" && seen.ids.length === 0 && !changed,
        leak: changed || (seen.kind === "rows" && seen.ids.length > 0),
        detail,
      };
    case "denied":
    case "rls":
    case "refused":
    case "absent": {
      const ok = seen.kind === "error" && !changed && (
        expect.kind === "denied"
          ? (seen.status === 401 || seen.status === 403) && seen.code === "42501" &&
            seen.message.startsWith("permission denied")
          : expect.kind === "rls"
          ? seen.status === 403 && seen.code === "42501" &&
            seen.message.startsWith("new row violates row-level security policy")
          : expect.kind === "absent"
          ? seen.status === 404 && seen.code === "PGRST202"
          : seen.code === expect.code && seen.status === expect.status
      );
      return { ok, leak: success || changed, detail };
    }
  }
}

async function runCell(sql: postgres.Sql, f: Fixture, cell: Cell): Promise<Verdict> {
  const name = `${cell.role} · ${cell.object} · ${cell.action}`;
  const target = (await cell.prepare?.(sql)) ?? {};
  const before = await cell.snapshot?.(sql, target);
  const res = await send(cell.request(target), roleHeaders(cell.role, f), `${stack.url}`);
  const after = await cell.snapshot?.(sql, target);
  const verdict = judge(cell.expect, observe(res, cell.key ?? "id"), before !== after, cell.names);
  return {
    cell: name,
    ...verdict,
    detail: `expected ${JSON.stringify(cell.expect)}; got ${res.status} ${verdict.detail}`,
  };
}

async function runApiCell(f: Fixture, cell: ApiCell): Promise<Verdict> {
  const name = `${cell.role} · ${cell.route}`;
  const target = (await cell.prepare?.()) ?? {};
  const before = await cell.snapshot?.(target);
  const res = await send(cell.request(target), roleHeaders(cell.role, f), cell.base ?? API);
  const after = await cell.snapshot?.(target);
  const changed = before !== after;
  const body = res.body as { error?: { code?: string } } | null;
  const detail = `expected ${JSON.stringify(cell.expect)}; got ${res.status} ${
    JSON.stringify(res.body).slice(0, 300)
  }${changed ? " (database changed)" : ""}`;
  let ok = res.status === cell.expect.status &&
    (cell.expect.code === undefined || body?.error?.code === cell.expect.code) &&
    changed === (cell.expect.writes ?? false);
  if (ok && cell.expect.check) {
    try {
      await cell.expect.check(res.body);
    } catch (error) {
      ok = false;
      return { cell: name, ok, leak: true, detail: `${detail}: ${error}` };
    }
  }
  const expectedSuccess = cell.expect.status < 300;
  const leak = (!expectedSuccess && res.status < 300) || (changed && !cell.expect.writes);
  return { cell: name, ok, leak, detail };
}

// =============================================================================
// The test
// =============================================================================

Deno.test("the RLS matrix: every role × object × action, straight at PostgREST and through the functions", async (t) => {
  await using sql = openDb();
  const f = await createFixture(sql);

  await t.step("the matrix has a row for every table, view and function in public", async () => {
    const relationNames = Object.keys(relations(f, sql)).sort();
    const inSchema = await sql<{ name: string }[]>`
      select relname as name from pg_class
      where relnamespace = 'public'::regnamespace and relkind in ('r', 'p', 'v', 'm', 'f')
      order by relname
    `;
    assert.deepEqual(inSchema.map((r) => r.name), relationNames);

    const functions = await sql<{ signature: string }[]>`
      select p.oid::regprocedure::text as signature
      from pg_proc as p
      where p.pronamespace = 'public'::regnamespace
        and not exists (select 1 from pg_depend as d where d.objid = p.oid and d.deptype = 'e')
      order by 1
    `;
    assert.deepEqual(
      functions.map((r) => r.signature).sort(),
      Object.keys(rpcSpecs(f, sql)).sort(),
      "every function in public has a row in the matrix",
    );
  });

  await t.step("anon may execute no function in public", async () => {
    const executable = await sql`
      select p.oid::regprocedure::text as signature from pg_proc as p
      where p.pronamespace = 'public'::regnamespace and has_function_privilege('anon', p.oid, 'execute')
    `;
    assert.deepEqual(executable.map((r) => r.signature), []);
  });

  const restCells = [...relationCells(f, sql), ...rpcCells(f, sql), ...attackCells(f, sql)];
  const restVerdicts = await mapConcurrently(restCells, 8, (cell) => runCell(sql, f, cell));
  // The API runs in order: /stats and the lists compare with the database at that moment.
  const api = apiCells(f, sql);
  const apiVerdicts: Verdict[] = [];
  for (const cell of api) apiVerdicts.push(await runApiCell(f, cell));

  const groups = new Map<string, Verdict[]>();
  restCells.forEach((cell, i) => {
    const group = cell.object.startsWith("rpc ") ? "functions (rpc)" : cell.object;
    groups.set(group, [...(groups.get(group) ?? []), restVerdicts[i]!]);
  });
  groups.set("the functions (mcp-connections, mcp-health-check)", apiVerdicts);

  for (const [group, verdicts] of groups) {
    await t.step(`${group}: ${verdicts.length} cells as the table says`, () => {
      const failed = verdicts.filter((v) => !v.ok);
      assert.deepEqual(failed.map((v) => `${v.cell}: ${v.detail}`), []);
    });
  }

  const verdicts = [...restVerdicts, ...apiVerdicts];
  const leaks = verdicts.filter((v) => v.leak);
  await t.step(`${verdicts.length} cells, ${leaks.length} leaks`, () => {
    assert.deepEqual(leaks.map((v) => `${v.cell}: ${v.detail}`), []);
    // deno-lint-ignore no-console
    console.log(
      `RLS matrix: ${verdicts.length} cells (${restVerdicts.length} at PostgREST, ` +
        `${apiVerdicts.length} through the functions), ${leaks.length} leaks`,
    );
  });
});
