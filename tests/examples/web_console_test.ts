/**
 * The web console in a real browser: Debian's Chromium, driven by Playwright, loads
 * the page from its own origin against the test stack, signs in with a token in the
 * URL fragment, lists the user's connections, tests one (the status changes and the
 * tools appear) and draws usage and health charts from data the API recorded. CORS
 * and `supabase.functions.invoke()` run for real. The screenshot is kept in
 * test-artifacts/web-console.png.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { projectRootFromHere } from "../../scripts/stack/project_config.ts";
import { startWebConsole } from "../../scripts/stack/web_console.ts";
import { api, createServer, createUser, openDb, stack } from "../_support/stack.ts";

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
/** As root, and without the background services this machine's closed network refuses. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ARTIFACTS = join(projectRootFromHere(), "test-artifacts");

/** Opens the console signed in as a user; collects the page's errors. */
async function openConsole(browser: Browser, url: string, token: string) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 820 } });
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (entry) => entry.type() === "error" && errors.push(entry.text()));
  await page.goto(`${url}#access_token=${token}`);
  return { page, errors };
}

async function statusOf(page: Page, connectionId: string): Promise<string> {
  return await page.locator(`tr[data-id="${connectionId}"] [data-testid=status]`).innerText();
}

Deno.test("the web console works in a real browser", async (t) => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "console" });
  const admin = await createUser(sql, { admin: true, label: "console-admin" });
  // The server is down at first (nothing listens on port 9): the scheduled health check
  // finds it refusing and marks the connection `error`; then it comes back.
  const serverId = await createServer(sql, "http://127.0.0.1:9/mcp", "Console demo server");
  const created = await api<{ id: string }>("POST", "/connections", {
    token: user.token,
    body: { agentId: user.agentId, mcpServerInstanceId: serverId, config: { retryAttempts: 0 } },
  });
  assert.equal(created.status, 201);
  const connectionId = created.body.id;
  // Usage the way an agent platform records it, and a health check the way the
  // scheduler runs it: the charts draw what the API stored.
  const usage = await api("POST", `/connections/${connectionId}/usage`, {
    token: user.token,
    body: {
      events: Array.from({ length: 40 }, (_, i) => ({
        success: i % 10 !== 0,
        responseTimeMs: 20 + i * 3,
        bytesTransferred: 512,
      })),
    },
  });
  assert.equal(usage.status, 200);
  const check = await fetch(`${stack.url}/functions/v1/mcp-health-check`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${stack.serviceRoleKey}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ connectionIds: [connectionId], failureThreshold: 1 }),
  });
  assert.equal(check.status, 200, await check.text());
  await sql`update account_tool_instances set mcp_server_url = ${stack.demoMcpUrl} where id = ${serverId}`;

  const webConsole = startWebConsole({
    port: 0,
    supabaseUrl: stack.url,
    publishableKey: stack.publishableKey,
    outDir: await Deno.makeTempDir({ prefix: "web-console-" }),
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    await t.step("a user sees their connection, tests it and sees charts with data", async () => {
      const { page, errors } = await openConsole(browser, webConsole.url, user.token);
      const row = page.locator(`tr[data-id="${connectionId}"]`);
      await row.waitFor();
      assert.equal(await page.locator("#connections tr").count(), 1, "only the user's own");
      assert.equal(await statusOf(page, connectionId), "error");
      assert.equal(page.url().includes("access_token"), false, "the token leaves the address bar");

      await row.locator("[data-testid=test]").click();
      await row.locator("[data-testid=status]", { hasText: /^connected$/ }).waitFor();
      const lastTest = await row.locator("[data-testid=last-test]").innerText();
      assert.match(lastTest, /^2 tools: echo, current_time$/);

      // Each canvas says how many of its points hold data, once drawn.
      for (const chart of ["usage-chart", "health-chart"]) {
        await page.locator(`[data-testid=${chart}][data-points]:not([data-points="0"])`).waitFor();
      }
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "web-console.png"), fullPage: true });
      assert.deepEqual(errors, []);
      await page.close();
    });

    await t.step("an admin sees every user's connections", async () => {
      const { page, errors } = await openConsole(browser, webConsole.url, admin.token);
      await page.locator("#admin-toggle").waitFor({ state: "visible" });
      await page.locator("[data-testid=admin-view]").check();
      await page.locator(`tr[data-id="${connectionId}"]`).waitFor();
      assert.deepEqual(errors, []);
      await page.close();
    });

    await t.step("a user never sees the admin view", async () => {
      const { page } = await openConsole(browser, webConsole.url, user.token);
      await page.locator(`tr[data-id="${connectionId}"]`).waitFor();
      assert.equal(await page.locator("#admin-toggle").isVisible(), false);
      await page.close();
    });
  } finally {
    await browser.close();
    await webConsole.close();
  }
});
