/**
 * A tiny edge function for the Edge Runtime limit and environment tests
 * (tests/scripts/stack/function_workers_test.ts):
 *
 *   GET /limits/ok              -> {pid}
 *   GET /limits/env             -> {names}: the environment variables it sees
 *   GET /limits/burn?ms=N       -> burns N ms of CPU (not wall time: the machine may be busy)
 *                                  in one go, then {pid}
 *   GET /limits/allocate?mb=N   -> keeps N MB allocated, waits ?holdMs (default 10 s), {pid}
 *   GET /limits/sleep?ms=N      -> waits N ms without CPU, then {pid}
 *   GET /limits/later?ms=N&burn=M&url=U -> burns M ms of CPU, answers {pid}, and N ms later
 *                                  calls U in the background (EdgeRuntime.waitUntil)
 */
import process from "node:process";

const kept: Uint8Array[] = [];
const edgeRuntime = (globalThis as {
  EdgeRuntime?: { waitUntil(promise: Promise<unknown>): void };
}).EdgeRuntime;

function burn(ms: number): number {
  const cpuMicros = () => {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  };
  const until = cpuMicros() + ms * 1000;
  let x = 0;
  while (cpuMicros() < until) {
    for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + 1);
  }
  return x;
}

Deno.serve(async (request) => {
  const url = new URL(request.url);
  const number = (name: string) => Number(url.searchParams.get(name) ?? "0");
  const answer = () => Response.json({ pid: Deno.pid });
  switch (url.pathname) {
    case "/limits/ok":
      return answer();
    case "/limits/env":
      return Response.json({ names: Object.keys(Deno.env.toObject()).sort() });
    case "/limits/burn":
      return Response.json({ pid: Deno.pid, x: burn(number("ms")) > 0 });
    case "/limits/later": {
      burn(number("burn"));
      const later = new Promise((resolve) => setTimeout(resolve, number("ms")))
        .then(() => fetch(url.searchParams.get("url")!))
        .then((response) => response.body?.cancel());
      edgeRuntime?.waitUntil(later);
      return answer();
    }
    case "/limits/allocate": {
      for (let mb = 0; mb < number("mb"); mb++) kept.push(new Uint8Array(1024 * 1024).fill(1));
      await new Promise((resolve) => setTimeout(resolve, number("holdMs") || 10_000));
      return answer();
    }
    case "/limits/sleep":
      await new Promise((resolve) => setTimeout(resolve, number("ms")));
      return answer();
    default:
      return new Response("not found", { status: 404 });
  }
});
