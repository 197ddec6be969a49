/**
 * Structured logs: one JSON object per line on stdout, which Supabase's function
 * logs index. Callers pass plain fields; tokens and keys are never logged.
 */
export type LogLevel = "info" | "warn" | "error";

export type LogFields = Record<string, unknown>;

export type LogSink = (line: string) => void;

// deno-lint-ignore no-console
const stdoutSink: LogSink = (line) => console.log(line);

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** A logger that writes JSON lines to `sink` (stdout by default). */
export function createLogger(base: LogFields = {}, sink: LogSink = stdoutSink): Logger {
  const write = (level: LogLevel, message: string, fields?: LogFields) =>
    sink(JSON.stringify({ time: new Date().toISOString(), level, message, ...base, ...fields }));
  return {
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
  };
}

/** An error's name, message and cause chain, without stack frames of secrets. */
export function describeError(error: unknown): LogFields {
  if (!(error instanceof Error)) return { error: String(error) };
  const cause = error.cause;
  return {
    error: `${error.name}: ${error.message}`,
    ...(cause === undefined ? {} : {
      cause: cause instanceof Error
        ? `${cause.name}: ${cause.message}`
        : typeof cause === "object"
        ? JSON.stringify(cause)
        : String(cause),
    }),
    stack: error.stack?.split("\n").slice(1, 6).map((line) => line.trim()),
  };
}
