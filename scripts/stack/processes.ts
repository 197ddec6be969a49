/**
 * Child processes of the local stack: one-shot commands, long-running services
 * whose output goes to a log file or the terminal, free ports, readiness waits.
 */

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and captures its output. */
export async function run(
  cmd: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<RunResult> {
  const [program, ...args] = cmd;
  if (!program) throw new Error("empty command");
  const child = new Deno.Command(program, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Runs a command and throws, with its output, when it fails. */
export async function runOrThrow(
  cmd: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<RunResult> {
  const result = await run(cmd, options);
  if (result.code !== 0) {
    throw new Error(
      `\`${cmd.join(" ")}\` exited with ${result.code}\n${result.stderr || result.stdout}`.trim(),
    );
  }
  return result;
}

/** Where a service's output goes. */
export type LogTarget = { file: string } | { terminal: string };

/** A long-running child process of the stack. */
export class Service {
  #child: Deno.ChildProcess;
  #status: Promise<Deno.CommandStatus>;
  #exited = false;

  constructor(
    readonly name: string,
    cmd: string[],
    options: { cwd?: string; env?: Record<string, string>; log: LogTarget },
  ) {
    const [program, ...args] = cmd;
    if (!program) throw new Error("empty command");
    this.#child = new Deno.Command(program, {
      args,
      cwd: options.cwd,
      env: options.env,
      clearEnv: false,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#status = this.#child.status.then((status) => {
      this.#exited = true;
      return status;
    });
    const log = options.log;
    if ("file" in log) {
      // Both streams are drained into the one file for as long as the process runs: a
      // pipe nobody reads fills up and then blocks the process on its next write (a
      // WritableStream takes one pipe at a time, so each stream writes on its own).
      const file = Deno.openSync(log.file, { create: true, append: true });
      Promise.all([appendAll(file, this.#child.stdout), appendAll(file, this.#child.stderr)])
        .catch(() => {})
        .finally(() => {
          try {
            file.close();
          } catch {
            // already closed
          }
        });
    } else {
      prefixLines(this.#child.stdout, log.terminal, Deno.stdout);
      prefixLines(this.#child.stderr, log.terminal, Deno.stderr);
    }
  }

  get pid(): number {
    return this.#child.pid;
  }

  get exited(): boolean {
    return this.#exited;
  }

  get status(): Promise<Deno.CommandStatus> {
    return this.#status;
  }

  /** Sends a signal, waits up to `graceMs`, then kills. */
  async stop(signal: Deno.Signal = "SIGTERM", graceMs = 5_000): Promise<void> {
    if (this.#exited) return;
    try {
      this.#child.kill(signal);
    } catch {
      // already gone
    }
    const timer = new Promise<"timeout">((resolve) => {
      const id = setTimeout(() => resolve("timeout"), graceMs);
      this.#status.finally(() => clearTimeout(id));
    });
    if ((await Promise.race([this.#status, timer])) === "timeout") {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await this.#status;
    }
  }
}

/** Writes every chunk of `stream` to `file` until the stream ends. */
async function appendAll(file: Deno.FsFile, stream: ReadableStream<Uint8Array>): Promise<void> {
  for await (let chunk of stream) {
    while (chunk.byteLength > 0) chunk = chunk.subarray(await file.write(chunk));
  }
}

async function prefixLines(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
  out: { writeSync(p: Uint8Array): number },
): Promise<void> {
  const encoder = new TextEncoder();
  let pending = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) out.writeSync(encoder.encode(`${prefix} ${line}\n`));
    }
    if (pending) out.writeSync(encoder.encode(`${prefix} ${pending}\n`));
  } catch {
    // the process went away
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export async function isPortOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Waits until `check` resolves true, or throws after `timeoutMs` with `what` in the message. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; service?: Service } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (options.service?.exited) {
      throw new Error(`${what}: the process exited (code ${(await options.service.status).code})`);
    }
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
  throw new Error(`${what}: not ready after ${options.timeoutMs ?? 30_000} ms`);
}
