/**
 * A newcomer's checkout may sit where the `postgres` OS user cannot enter (root's home, mode
 * 700, or under `mktemp -d`). Run as root, the stack then keeps the cluster in
 * /var/tmp/agent-mcp-connections-<hash>/ (owned by postgres, one per checkout, found again
 * on the next start), and runs initdb/pg_ctl from "/" so the working directory does not
 * matter. As another user, the cluster stays in the state folder.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { projectRootFromHere } from "../../../scripts/stack/project_config.ts";

const CLUSTER_MODULE = pathToFileURL(
  join(projectRootFromHere(), "scripts/stack/postgres_cluster.ts"),
).href;
const PROCESSES_MODULE = pathToFileURL(
  join(projectRootFromHere(), "scripts/stack/processes.ts"),
).href;

/** Creates (if needed), starts and stops the cluster of `stateDir`, from `cwd`, in a child. */
async function startAndStopCluster(
  stateDir: string,
  cwd: string,
): Promise<{ root: string; created: boolean }> {
  const script = `
    import { clusterRootFor, findPostgresBinaries, PostgresCluster } from "${CLUSTER_MODULE}";
    import { freePort } from "${PROCESSES_MODULE}";
    const root = await clusterRootFor(${JSON.stringify(stateDir)});
    const cluster = new PostgresCluster(await findPostgresBinaries(), {
      root, port: freePort(), password: "postgres", ephemeral: true,
    });
    const created = await cluster.ensureCreated();
    await cluster.start();
    await cluster.stop();
    console.log(JSON.stringify({ root, created }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", script],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(out.code, 0, decoder.decode(out.stderr));
  return JSON.parse(decoder.decode(out.stdout).trim().split("\n").at(-1)!);
}

Deno.test("a checkout the postgres user cannot enter still gets a cluster that persists", async () => {
  // Deno.makeTempDir creates the folder with mode 700, as `mktemp -d` does.
  const outer = await Deno.makeTempDir({ prefix: "mode-700-" });
  const checkout = join(outer, "repo");
  const stateDir = join(checkout, ".stack");
  await Deno.mkdir(stateDir, { recursive: true });
  let root: string | null = null;
  try {
    const first = await startAndStopCluster(stateDir, checkout);
    root = first.root;
    assert.equal(first.created, true);
    if (Deno.uid() === 0) {
      assert.match(first.root, /^\/var\/tmp\/agent-mcp-connections-[0-9a-f]{16}\/db$/);
      const owner = (await Deno.stat(dirname(first.root))).uid;
      const postgresUid = Number(
        new TextDecoder().decode(
          (await new Deno.Command("id", { args: ["-u", "postgres"], stdout: "piped" }).output())
            .stdout,
        ).trim(),
      );
      assert.equal(owner, postgresUid, "the folder belongs to postgres");
    } else {
      assert.equal(first.root, join(stateDir, "db"));
    }
    const second = await startAndStopCluster(stateDir, checkout);
    assert.deepEqual(second, { root: first.root, created: false }, "found again, kept");
  } finally {
    await Deno.remove(outer, { recursive: true }).catch(() => {});
    if (root && relative(outer, root).startsWith("..")) {
      await Deno.remove(dirname(root), { recursive: true }).catch(() => {});
    }
  }
});
