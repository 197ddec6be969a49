/**
 * The results, three ways: a fixed-width table for the terminal, bench/results.json (every
 * sample, git-ignored) and bench/RESULTS.md (committed: the last figures and the machine).
 */
import type { Figure, ScenarioResult, Unit } from "./figures.ts";
import type { Machine } from "./machine.ts";
import type { Summary } from "./stats.ts";

export interface BenchReport {
  machine: Machine;
  /** The command line's options. */
  options: Record<string, unknown>;
  scenarios: ScenarioResult[];
  durationSeconds: number;
  /** /proc/loadavg at the end. */
  loadAverageAfter: number[];
}

function number(value: number, decimals: number): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  });
}

export function formatValue(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return "?";
  switch (unit) {
    case "ms": {
      const decimals = value < 1 ? 3 : value < 10 ? 2 : value < 100 ? 1 : 0;
      return `${number(value, decimals)} ms`;
    }
    case "s":
      return `${number(value, 2)} s`;
    case "req/s":
    case "events/s":
    case "updates/s":
      return `${number(value, 0)} ${unit}`;
    case "statements":
      return number(value, 1);
    case "MB":
      return `${number(value, 1)} MB`;
    case "%":
      return `${number(value, 1)} %`;
  }
}

function cell(summary: Summary, unit: Unit): string {
  const median = formatValue(summary.median, unit);
  if (summary.n <= 1 || !Number.isFinite(summary.p95)) return median;
  // For throughputs the bad tail is the low end: show the minimum instead of a p95.
  if (unit === "req/s" || unit === "events/s" || unit === "updates/s") {
    return `${median} (min ${formatValue(summary.min, unit).replace(` ${unit}`, "")})`;
  }
  return `${median} (p95 ${formatValue(summary.p95, unit).replace(/ (ms|s|MB|%)$/, "")})`;
}

export function formatRatio(figure: Figure): string {
  if (figure.ratio === null || !Number.isFinite(figure.ratio)) return "—";
  const r = figure.ratio;
  const decimals = r >= 100 ? 0 : r >= 10 ? 1 : 2;
  return `${number(r, decimals)}${figure.ratioMeaning}`;
}

function verdict(figure: Figure): string {
  return figure.met === null ? "—" : figure.met ? "met" : "MISSED";
}

interface Row {
  scenario: string;
  figure: string;
  project: string;
  reference: string;
  ratio: string;
  target: string;
  result: string;
}

function rows(scenarios: readonly ScenarioResult[]): Row[] {
  return scenarios.flatMap((scenario) => {
    if (scenario.error) {
      return [{
        scenario: scenario.id,
        figure: `NOT RUN: ${scenario.error.split("\n")[0]}`,
        project: "",
        reference: "",
        ratio: "",
        target: "",
        result: "ERROR",
      }];
    }
    return scenario.figures.map((figure) => ({
      scenario: scenario.id,
      figure: figure.name,
      project: cell(figure.project.summary, figure.unit),
      reference: figure.reference ? cell(figure.reference.summary, figure.unit) : "—",
      ratio: formatRatio(figure),
      target: figure.target,
      result: verdict(figure),
    }));
  });
}

const HEADER: Row = {
  scenario: "scenario",
  figure: "figure",
  project: "project median (p95)",
  reference: "reference median (p95)",
  ratio: "ratio",
  target: "target",
  result: "result",
};
const COLUMNS = Object.keys(HEADER) as (keyof Row)[];

/** The summary as a fixed-width table. */
export function formatTable(scenarios: readonly ScenarioResult[]): string {
  const body = rows(scenarios);
  const widths = COLUMNS.map((column) =>
    Math.max(HEADER[column].length, ...body.map((row) => row[column].length))
  );
  const line = (row: Row) =>
    COLUMNS.map((column, i) => row[column].padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(HEADER), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join(
    "\n",
  );
}

function markdownTable(scenarios: readonly ScenarioResult[]): string {
  const escape = (text: string) => text.replaceAll("|", "\\|");
  return [
    `| ${COLUMNS.map((column) => HEADER[column]).join(" | ")} |`,
    `|${COLUMNS.map(() => "---").join("|")}|`,
    ...rows(scenarios).map((row) => `| ${COLUMNS.map((c) => escape(row[c])).join(" | ")} |`),
  ].join("\n");
}

export function resultsMarkdown(report: BenchReport): string {
  const m = report.machine;
  const notes = report.scenarios.flatMap((scenario) =>
    scenario.figures.filter((figure) => figure.notes.length > 0).map((figure) =>
      `- **${scenario.id} / ${figure.name}**: ${figure.notes.join("; ")}`
    )
  );
  return [
    "# Benchmark results",
    "",
    "Written by `deno task bench` (bench/run.ts); do not edit by hand. Every figure is the " +
    "project measured beside its reference in the same run, interleaved trial by trial; " +
    "medians with p95 (for throughputs, the slowest run) over repeated trials. Ratios are " +
    "oriented so that bigger is better (`× faster`, `× the throughput`) except where they read " +
    "as a slowdown (`× the bare SDK's time`, `× the timeout`).",
    "",
    "## Machine",
    "",
    "| | |",
    "|---|---|",
    `| date | ${m.date} |`,
    `| CPU | ${m.cpu}, ${m.cores} cores |`,
    `| RAM | ${m.ramGiB} GiB |`,
    `| OS | ${m.os}, Linux ${m.kernel} |`,
    `| Deno | ${m.deno} (V8 ${m.v8}) |`,
    `| PostgreSQL | ${m.postgres} |`,
    `| PostgREST | ${m.postgrest} |`,
    `| load average | ${m.loadAverage.join(" ")} at the start, ${
      report.loadAverageAfter.join(" ")
    } at the end |`,
    `| run time | ${(report.durationSeconds / 60).toFixed(1)} min |`,
    "",
    "Other work on the machine moves absolute figures; the ratios move much less, since both " +
    "sides of each were measured side by side.",
    "",
    "## Summary",
    "",
    markdownTable(report.scenarios),
    "",
    ...notes,
    "",
    "## Scenarios",
    "",
    ...report.scenarios.flatMap((scenario) => [
      `### ${scenario.title}`,
      "",
      scenario.error
        ? "Not run: " + scenario.error
        : scenario.details + `\n\n(${scenario.durationSeconds.toFixed(0)} s)`,
      "",
    ]),
  ].join("\n");
}

export function resultsJson(report: BenchReport): string {
  return JSON.stringify(
    report,
    (_key, value) => typeof value === "number" && !Number.isFinite(value) ? null : value,
    2,
  ) + "\n";
}
