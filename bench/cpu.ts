/**
 * CPU time per process group, from /proc/<pid>/stat (user + system, all threads): where a
 * request's CPU goes (the gateway in this process, a function host, PostgREST, PostgreSQL's
 * backends). On a machine this small the processes share two cores, so the CPU a request costs
 * in all of them together is what bounds its throughput.
 */

/** Process group name -> the pids in it now. */
export type ProcessGroups = Record<string, () => Promise<number[]>>;

/** CPU milliseconds per group since `start()`. */
export type CpuMeter = () => Promise<() => Promise<Record<string, number>>>;

let ticksPerSecond: number | null = null;

async function clockTicks(): Promise<number> {
  if (ticksPerSecond !== null) return ticksPerSecond;
  try {
    const output = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" })
      .output();
    ticksPerSecond = Number(new TextDecoder().decode(output.stdout).trim()) || 100;
  } catch {
    ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

interface Stat {
  ppid: number;
  /** utime + stime, clock ticks. */
  ticks: number;
}

async function stat(pid: number): Promise<Stat | null> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/stat`);
    // "pid (comm) state ppid ... utime stime ...": comm may hold spaces, so split after ")".
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null;
  }
}

async function commandLine(pid: number): Promise<string> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

async function environment(pid: number): Promise<string> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/environ`)).replaceAll("\0", "\n");
  } catch {
    return "";
  }
}

/** Every pid with its parent. */
async function processTable(): Promise<Map<number, number>> {
  const table = new Map<number, number>();
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    const s = await stat(pid);
    if (s) table.set(pid, s.ppid);
  }
  return table;
}

/** Children of `parent` whose command line (and, if given, environment) matches. */
export async function childrenMatching(
  parent: number,
  command: RegExp,
  env?: RegExp,
): Promise<number[]> {
  const found: number[] = [];
  for (const [pid, ppid] of await processTable()) {
    if (ppid !== parent || !command.test(await commandLine(pid))) continue;
    if (env && !env.test(await environment(pid))) continue;
    found.push(pid);
  }
  return found;
}

/** The postmaster of a data folder and all its children (the backends). */
export async function postgresProcesses(dataDir: string): Promise<number[]> {
  let postmaster: number;
  try {
    postmaster = Number((await Deno.readTextFile(`${dataDir}/postmaster.pid`)).split("\n")[0]);
  } catch {
    return [];
  }
  const table = await processTable();
  return [postmaster, ...[...table].filter(([, ppid]) => ppid === postmaster).map(([pid]) => pid)];
}

/** A meter over the groups: start() snapshots, the returned function gives CPU ms since. */
export function cpuMeter(groups: ProcessGroups): CpuMeter {
  const snapshot = async (): Promise<Map<string, Map<number, number>>> => {
    const result = new Map<string, Map<number, number>>();
    for (const [name, pids] of Object.entries(groups)) {
      const ticks = new Map<number, number>();
      for (const pid of await pids()) {
        const s = await stat(pid);
        if (s) ticks.set(pid, s.ticks);
      }
      result.set(name, ticks);
    }
    return result;
  };
  return async () => {
    const hz = await clockTicks();
    const before = await snapshot();
    return async () => {
      const after = await snapshot();
      const used: Record<string, number> = {};
      for (const [name, ticks] of after) {
        let sum = 0;
        // A process that started during the run counts from zero; one that ended is lost.
        for (const [pid, t] of ticks) sum += t - (before.get(name)?.get(pid) ?? 0);
        used[name] = (sum / hz) * 1000;
      }
      return used;
    };
  };
}
