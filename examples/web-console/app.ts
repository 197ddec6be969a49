/// <reference lib="dom" />
/**
 * The web console: a static page that uses the module the way a web app does, with
 * supabase-js in the browser and `supabase.functions.invoke()` against the
 * mcp-connections function (CORS and all), under the signed-in user's JWT.
 *
 * Sign-in: a token in the URL fragment (`#access_token=...`, the shape of a magic-link
 * redirect) is handed to supabase-js through its `accessToken` option; that is how the
 * local stack, which has no auth server, signs the demo user in. Without one, the page
 * signs in with the project's own Supabase Auth (email and password).
 *
 * `deno task dev` bundles this file for the browser and serves the folder.
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { Chart, registerables } from "chart.js";
import type { Connection } from "../../shared/schemas/connection.ts";
import type { ConnectionPage, TestConnectionResponse } from "../../shared/schemas/responses.ts";
import type { ConnectionTestResult } from "../../shared/schemas/test_result.ts";
import type {
  ConnectionHealthSeries,
  ConnectionUsageSeries,
} from "../../shared/schemas/usage_history.ts";

Chart.register(...registerables);

interface ConsoleConfig {
  supabaseUrl: string;
  publishableKey: string;
  functionName?: string;
}

const FUNCTION = "mcp-connections";
const TOKEN_KEY = "mcp-console-access-token";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const message = (text: string) => ($("message").textContent = text);

/** The access token of a magic-link style redirect, kept for this tab only. */
function tokenFromRedirect(): string | null {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("access_token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    // The token does not stay in the address bar or the history.
    history.replaceState(null, "", location.pathname + location.search);
    return token;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function claims(token: string): Record<string, unknown> {
  try {
    const payload = token.split(".")[1]!.replaceAll("-", "+").replaceAll("_", "/");
    return JSON.parse(atob(payload));
  } catch {
    return {};
  }
}

class Api {
  constructor(private readonly supabase: SupabaseClient, private readonly name: string) {}

  async call<T>(method: "GET" | "POST", path: string): Promise<T> {
    const { data, error } = await this.supabase.functions.invoke(`${this.name}${path}`, { method });
    if (error) {
      // FunctionsHttpError carries the response: show the API's own error code.
      const context = (error as { context?: Response }).context;
      const body = context ? await context.json().catch(() => null) : null;
      throw new Error(
        body?.error?.code ? `${body.error.code}: ${body.error.message}` : error.message,
      );
    }
    return data as T;
  }
}

function statusBadge(status: string): HTMLElement {
  const badge = document.createElement("span");
  badge.className = `status ${status}`;
  badge.textContent = status;
  badge.dataset.testid = "status";
  return badge;
}

function lastTest(connection: Connection): string {
  // Stored results are whatever the probe last wrote: read them as the probe's shape.
  const result = connection.connectionTestResult as Partial<ConnectionTestResult> | null;
  if (!result || result.success === undefined) return "never tested";
  if (result.success) {
    const names = (result.tools ?? []).join(", ");
    return `${result.toolCount ?? 0} tools${names ? `: ${names}` : ""}`;
  }
  return `failed (${result.error?.class ?? "unknown"})`;
}

let usageChart: Chart | null = null;
let healthChart: Chart | null = null;

function hourLabel(iso: string): string {
  return new Date(iso).toISOString().slice(11, 16);
}

function drawCharts(usage: ConnectionUsageSeries, health: ConnectionHealthSeries): void {
  usageChart?.destroy();
  healthChart?.destroy();
  const usageCanvas = $<HTMLCanvasElement>("usage-chart");
  const healthCanvas = $<HTMLCanvasElement>("health-chart");
  usageChart = new Chart(usageCanvas, {
    data: {
      labels: usage.points.map((point) => hourLabel(point.bucketStart)),
      datasets: [
        { type: "bar", label: "requests", data: usage.points.map((p) => p.requests), yAxisID: "y" },
        { type: "bar", label: "failures", data: usage.points.map((p) => p.failures), yAxisID: "y" },
        {
          type: "line",
          label: "p95 latency (ms)",
          data: usage.points.map((p) => p.latencyP95Ms),
          yAxisID: "ms",
        },
      ],
    },
    options: {
      animation: false,
      scales: { y: { beginAtZero: true }, ms: { position: "right", beginAtZero: true } },
    },
  });
  healthChart = new Chart(healthCanvas, {
    data: {
      labels: health.points.map((point) => hourLabel(point.bucketStart)),
      datasets: [
        {
          type: "line",
          label: "uptime (%)",
          data: health.points.map((p) => (p.uptime === null ? null : p.uptime * 100)),
          yAxisID: "y",
        },
        {
          type: "line",
          label: "p50 latency (ms)",
          data: health.points.map((p) => p.latencyP50Ms),
          yAxisID: "ms",
        },
      ],
    },
    options: {
      animation: false,
      scales: { y: { min: 0, max: 100 }, ms: { position: "right", beginAtZero: true } },
    },
  });
  // What the charts hold, for a person reading the page source and for the browser test.
  usageCanvas.dataset.points = String(usage.points.filter((p) => p.requests > 0).length);
  healthCanvas.dataset.points = String(health.points.filter((p) => p.checks > 0).length);
}

async function main(): Promise<void> {
  const config: ConsoleConfig = await (await fetch("./config.json")).json();
  const token = tokenFromRedirect();
  const supabase = token
    ? createClient(config.supabaseUrl, config.publishableKey, {
      accessToken: () => Promise.resolve(token),
    })
    : createClient(config.supabaseUrl, config.publishableKey);

  if (!token) {
    const { data } = await supabase.auth.getSession();
    if (!data.session) {
      $("sign-in").hidden = false;
      $<HTMLFormElement>("sign-in-form").addEventListener("submit", async (event) => {
        event.preventDefault();
        const form = new FormData(event.target as HTMLFormElement);
        const { error } = await supabase.auth.signInWithPassword({
          email: String(form.get("email")),
          password: String(form.get("password")),
        });
        if (error) message(error.message);
        else location.reload();
      });
      return;
    }
  }

  const who = token ? claims(token) : {};
  $("who").textContent = String(who.email || who.sub || "signed in");
  const api = new Api(supabase, config.functionName ?? FUNCTION);
  // is_admin() answers for the caller only (false for everyone else), through PostgREST.
  const { data: isAdmin } = await supabase.rpc("is_admin");
  $("admin-toggle").hidden = isAdmin !== true;
  $("console").hidden = false;

  let selected: string | null = null;

  async function showCharts(connection: Connection): Promise<void> {
    selected = connection.id;
    $("charts").hidden = false;
    $("charts-title").textContent = connection.server?.name ?? connection.mcpServerInstanceId;
    for (const row of document.querySelectorAll<HTMLElement>("#connections tr")) {
      row.classList.toggle("selected", row.dataset.id === connection.id);
    }
    const [usage, health] = await Promise.all([
      api.call<ConnectionUsageSeries>("GET", `/connections/${connection.id}/usage?bucket=hour`),
      api.call<ConnectionHealthSeries>("GET", `/connections/${connection.id}/health?bucket=hour`),
    ]);
    if (selected === connection.id) drawCharts(usage, health);
  }

  async function test(connection: Connection, row: HTMLElement): Promise<void> {
    const cell = row.querySelector<HTMLElement>("[data-cell=status]")!;
    cell.replaceChildren(statusBadge("testing"));
    try {
      const { connection: tested } = await api.call<TestConnectionResponse>(
        "POST",
        `/connections/${connection.id}/test`,
      );
      render(row, tested, false);
      await showCharts(tested);
    } catch (error) {
      message(error instanceof Error ? error.message : String(error));
      cell.replaceChildren(statusBadge(connection.connectionStatus));
    }
  }

  function render(row: HTMLElement, connection: Connection, readOnly: boolean): void {
    row.dataset.id = connection.id;
    const cells = [
      connection.server?.name ?? connection.mcpServerInstanceId,
      connection.agentId.slice(0, 8),
    ].map((text) => {
      const td = document.createElement("td");
      td.textContent = text;
      return td;
    });
    const status = document.createElement("td");
    status.dataset.cell = "status";
    status.append(statusBadge(connection.connectionStatus));
    const result = document.createElement("td");
    result.dataset.testid = "last-test";
    result.textContent = lastTest(connection);
    const actions = document.createElement("td");
    if (!readOnly) {
      const button = document.createElement("button");
      button.textContent = "Test";
      button.dataset.testid = "test";
      button.addEventListener("click", (event) => {
        event.stopPropagation();
        test(connection, row);
      });
      actions.append(button);
    }
    row.replaceChildren(...cells, status, result, actions);
    row.onclick = () => readOnly ? undefined : showCharts(connection);
  }

  async function load(): Promise<void> {
    message("");
    const adminView = $<HTMLInputElement>("admin-view").checked;
    const page = await api.call<ConnectionPage>(
      "GET",
      adminView ? "/admin/connections?active=true" : "/connections",
    );
    const body = $("connections");
    body.replaceChildren(...page.items.map((connection) => {
      const row = document.createElement("tr");
      render(row, connection, adminView);
      return row;
    }));
    if (page.items.length === 0) message("No connections yet.");
    const first = page.items[0];
    if (first && !adminView) await showCharts(first);
    else $("charts").hidden = true;
  }

  $("admin-view").addEventListener("change", () => load().catch((e) => message(String(e))));
  await load();
}

main().catch((error) => message(error instanceof Error ? error.message : String(error)));
