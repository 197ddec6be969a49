/**
 * The README's curl session and supabase-js snippet work as written: both are
 * taken from README.md and run against the test stack (only its URL differs).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { projectRootFromHere } from "../scripts/stack/project_config.ts";
import { stack } from "./_support/stack.ts";

const root = projectRootFromHere();
const readme = await Deno.readTextFile(join(root, "README.md"));

function codeBlockAfter(marker: string): string {
  const at = readme.indexOf(`<!-- ${marker} -->`);
  assert.ok(at >= 0, `README.md has the ${marker} marker`);
  const match = /```\w*\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(match, `a code block follows ${marker}`);
  return match[1]!.replaceAll("http://127.0.0.1:54321", stack.url);
}

async function run(cmd: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    cwd: root,
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("the README's curl session works as written", async () => {
  // Each curl also prints its status on a marked line of its own, after the body.
  const script = `set -euo pipefail
curl() { command curl -w '\\n@@status %{http_code}\\n' "$@"; }
${codeBlockAfter("readme-curl-session")}`;
  const result = await run(["bash", "-c", script]);
  assert.equal(result.code, 0, result.stderr);
  const responses = [...result.stdout.matchAll(/([\s\S]*?)\n@@status (\d+)\n/g)].map((m) => ({
    status: Number(m[2]),
    body: JSON.parse(m[1]!) as Record<string, unknown>,
  }));
  assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200, 200, 201, 200]);
  const [list, test, usage, , disconnect, reconnect, rest] = responses;
  assert.ok(Array.isArray(list!.body.items));
  assert.equal((test!.body.result as { success: boolean }).success, true);
  assert.equal((usage!.body.usageStats as { totalRequests: number }).totalRequests >= 1, true);
  assert.equal(disconnect!.body.isActive, false);
  assert.equal(reconnect!.body.connectionStatus, "disconnected");
  assert.ok(Array.isArray(rest!.body));
});

Deno.test("the README's supabase-js snippet works as written", async () => {
  const jwt = await run(["bash", "-c", "npx -y deno@2.9.6 task -q jwt"]);
  assert.equal(jwt.code, 0, jwt.stderr);
  const file = join(root, `.readme-snippet-${crypto.randomUUID()}.ts`);
  await Deno.writeTextFile(file, codeBlockAfter("readme-supabase-js"));
  try {
    const result = await run([Deno.execPath(), "run", "-A", file], { JWT: jwt.stdout.trim() });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^true \[ "echo", "current_time" \]/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("CI (.ci/run) runs the README's test command, through `deno task ok`", async () => {
  const quickStart = /^(npx -y deno@\d+\.\d+\.\d+) task test\b/m.exec(readme);
  assert.ok(quickStart, "the README's quick start shows its test command");
  const pinned = quickStart[1]!;
  const ci = await Deno.readTextFile(join(root, ".ci/run"));
  const commands = ci.split("\n").filter((line) => line.trim() !== "" && !/^\s*#/.test(line));
  assert.ok(commands.includes(`DENO=(${pinned})`), `.ci/run runs the README's Deno: ${pinned}`);
  const install = commands.indexOf(`"\${DENO[@]}" install --frozen`);
  const ok = commands.indexOf(`"\${DENO[@]}" task ok`);
  assert.ok(install >= 0 && ok > install, "the lockfile's packages first, then `deno task ok`");
  assert.equal(ok, commands.length - 1, "`deno task ok` is the last step");
  const config = JSON.parse(await Deno.readTextFile(join(root, "deno.json")));
  // Nested `deno` commands of a task run with the binary that runs the task: the pinned one.
  assert.equal(
    config.tasks.ok,
    "deno fmt --check && deno lint && deno task check && deno task test",
  );
});
