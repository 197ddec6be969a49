/**
 * `deno task jwt`: mints an access token for a user of the local stack. There is no
 * auth server locally (no GoTrue), so this stands in for signing in.
 *
 *   deno task jwt                         the seeded demo user
 *   deno task jwt --email admin@example.com   a seeded user by email (reads the database)
 *   deno task jwt --sub <uuid> [--email e] [--expires-in 3600]
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import { LOCAL_JWT_SECRET, mintUserToken } from "./stack/keys.ts";
import { projectRootFromHere, readProjectConfig } from "./stack/project_config.ts";

const DEMO_USER = { sub: "11111111-1111-4111-8111-111111111111", email: "demo@example.com" };

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sub: { type: "string" },
    email: { type: "string" },
    "expires-in": { type: "string", default: "3600" },
    "db-url": { type: "string" },
  },
});

// deno-lint-ignore no-console
const fail = (message: string): never => (console.error(message), Deno.exit(2));

const expiresIn = Number(values["expires-in"]);
if (!Number.isInteger(expiresIn) || expiresIn <= 0) {
  fail("--expires-in must be a positive number of seconds");
}

let sub = values.sub;
let email = values.email;
if (!sub && email) {
  const config = await readProjectConfig(projectRootFromHere());
  const url = values["db-url"] ??
    `postgresql://postgres:postgres@127.0.0.1:${config.dbPort}/postgres`;
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    const [user] = await sql<{ id: string }[]>`select id from auth.users where email = ${email}`;
    if (!user) fail(`no user with email ${email} (is \`deno task dev\` running and seeded?)`);
    sub = user!.id;
  } catch (error) {
    fail(`cannot read auth.users at ${url}: ${error instanceof Error ? error.message : error}`);
  } finally {
    await sql.end();
  }
}
if (!sub) ({ sub, email } = DEMO_USER);

const token = await mintUserToken({ sub: sub!, email, expiresIn, secret: LOCAL_JWT_SECRET });
// deno-lint-ignore no-console
console.log(token);
