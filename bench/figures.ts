/**
 * What a scenario reports: figures, each the project beside its reference measured in the same
 * run, their ratio, the target and whether it was met; plus details for RESULTS.md and raw data
 * for results.json.
 */
import type { Summary } from "./stats.ts";

export type Unit =
  | "ms"
  | "s"
  | "req/s"
  | "events/s"
  | "updates/s"
  | "statements"
  | "MB"
  | "%";

/** One measured side: what ran and its trials. */
export interface Side {
  /** What was measured, e.g. "GET /functions/v1/mcp-connections/connections". */
  label: string;
  summary: Summary;
}

export interface Figure {
  /** e.g. "user list, page 1 (50 connections)". */
  name: string;
  unit: Unit;
  project: Side;
  /** Null when the target is absolute (no reference). */
  reference: Side | null;
  /**
   * The ratio of the medians, oriented so that bigger is better for the project:
   * reference/project for times, project/reference for throughputs. Null without a reference.
   */
  ratio: number | null;
  /** How to read the ratio, e.g. "× faster", "× the throughput". */
  ratioMeaning: string;
  /** The target, in words, e.g. "≤ 2 ms and ≥ 50× faster". */
  target: string;
  /** Null: informative only. */
  met: boolean | null;
  /** Short remarks for the table (plans, verification). */
  notes: string[];
}

export interface ScenarioResult {
  id: string;
  title: string;
  figures: Figure[];
  /** Markdown for RESULTS.md: plans, per-trial facts, verification. */
  details: string;
  /** Anything else worth keeping in results.json. */
  data: Record<string, unknown>;
  durationSeconds: number;
  /** Set when the scenario could not run (the other scenarios still do). */
  error?: string;
}

/** A time figure: smaller is better; the ratio is reference/project. */
export function timeFigure(
  fields: Omit<Figure, "ratio" | "ratioMeaning" | "unit"> & { unit?: Unit },
): Figure {
  const ratio = fields.reference
    ? fields.reference.summary.median / fields.project.summary.median
    : null;
  return { unit: "ms", ...fields, ratio, ratioMeaning: "× faster" };
}

/**
 * A time figure read as a slowdown: the ratio is project/reference (smaller is better), for
 * targets such as "at most 1.2× the bare SDK's time".
 */
export function slowdownFigure(
  fields: Omit<Figure, "ratio" | "ratioMeaning" | "unit"> & { unit?: Unit; ratioMeaning: string },
): Figure {
  const ratio = fields.reference
    ? fields.project.summary.median / fields.reference.summary.median
    : null;
  return { unit: "ms", ...fields, ratio };
}

/** A throughput figure: bigger is better; the ratio is project/reference. */
export function throughputFigure(
  fields: Omit<Figure, "ratio" | "ratioMeaning" | "unit"> & { unit?: Unit },
): Figure {
  const ratio = fields.reference
    ? fields.project.summary.median / fields.reference.summary.median
    : null;
  return { unit: "req/s", ...fields, ratio, ratioMeaning: "× the throughput" };
}
