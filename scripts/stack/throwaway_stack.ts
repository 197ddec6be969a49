/**
 * A stack for one test run or benchmark: its own cluster in a temporary folder, free
 * ports, no demo server, no seed, no fsync, logs to files; `stop()` also deletes the
 * folder. Options override any of these defaults.
 */
import { dirname, relative } from "node:path";
import { type RunningStack, type StackOptions, startStack } from "./stack.ts";

export interface ThrowawayStack extends RunningStack {
  /** The temporary folder (cluster and logs/); gone after stop(). */
  stateDir: string;
}

export async function startThrowawayStack(
  prefix: string,
  options: Omit<StackOptions, "stateDir"> = {},
): Promise<ThrowawayStack> {
  const stateDir = await Deno.makeTempDir({ prefix });
  // PostgreSQL runs as the postgres OS user when started as root: it must reach the folder.
  if (Deno.uid() === 0) await Deno.chmod(stateDir, 0o755);
  const removeFolder = () => Deno.remove(stateDir, { recursive: true }).catch(() => {});
  try {
    const stack = await startStack({
      apiPort: 0,
      dbPort: 0,
      demoMcpPort: null,
      seed: false,
      ephemeral: true,
      logs: "files",
      ...options,
      stateDir,
    });
    return {
      ...stack,
      stateDir,
      stop: async () => {
        await stack.stop();
        await removeFolder();
        // A cluster kept outside the state folder (see clusterRootFor) goes too.
        const clusterRoot = stack.cluster.options.root;
        if (relative(stateDir, clusterRoot).startsWith("..")) {
          await Deno.remove(dirname(clusterRoot), { recursive: true }).catch(() => {});
        }
      },
    };
  } catch (error) {
    await removeFolder();
    throw error;
  }
}
