/**
 * The machine the figures came from: CPU model, cores, RAM, OS, Deno, PostgreSQL and PostgREST
 * versions, the date, and the load average (other work on the machine shifts absolute figures;
 * the ratios are measured side by side and shift much less).
 */
import { join } from "node:path";
import { findPostgresBinaries } from "../scripts/stack/postgres_cluster.ts";
import { findPostgrest } from "../scripts/stack/postgrest.ts";

export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: number;
  os: string;
  kernel: string;
  deno: string;
  v8: string;
  postgres: string;
  postgrest: string;
  date: string;
  /** /proc/loadavg: 1, 5 and 15 minute averages. */
  loadAverage: number[];
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

async function commandOutput(cmd: string[]): Promise<string> {
  try {
    const output = await new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return (decoder.decode(output.stdout) + decoder.decode(output.stderr)).trim();
  } catch (error) {
    return `unknown (${error instanceof Error ? error.message : String(error)})`;
  }
}

export async function loadAverage(): Promise<number[]> {
  return (await readText("/proc/loadavg")).split(" ").slice(0, 3).map(Number);
}

export async function describeMachine(): Promise<Machine> {
  const cpuinfo = await readText("/proc/cpuinfo");
  const meminfo = await readText("/proc/meminfo");
  const release = await readText("/etc/os-release");
  const memKb = Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0);
  const postgresBin = await findPostgresBinaries().catch(() => null);
  const postgrestBin = await findPostgrest().catch(() => null);
  return {
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    cores: navigator.hardwareConcurrency,
    ramGiB: Math.round(memKb / 1024 / 1024 * 10) / 10,
    os: /PRETTY_NAME="?([^"\n]+)"?/.exec(release)?.[1] ?? Deno.build.os,
    kernel: await commandOutput(["uname", "-r"]),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    postgres: postgresBin
      ? await commandOutput([join(postgresBin, "postgres"), "--version"])
      : "not found",
    postgrest: postgrestBin ? await commandOutput([postgrestBin, "--version"]) : "not found",
    date: new Date().toISOString(),
    loadAverage: await loadAverage(),
  };
}
