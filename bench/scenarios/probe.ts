/**
 * The MCP probe of a local server beside the bare SDK's connect + list tools, per server kind:
 * bench/probe.ts (runProbeBench) does the measuring, alternating probe and bare run by run.
 */
import { formatProbeBench, type ProbeBenchRow, runProbeBench } from "../probe.ts";
import { type Figure, type ScenarioResult, slowdownFigure } from "../figures.ts";
import type { Summary } from "../stats.ts";

const TARGET_RATIO = 1.2;

function summary(runs: number, median: number, p95: number): Summary {
  // runProbeBench reports medians and p95 only.
  return { n: runs, median, p95, min: Number.NaN, max: Number.NaN };
}

export async function runProbeScenario(runs: number): Promise<ScenarioResult> {
  const started = performance.now();
  const rows: ProbeBenchRow[] = await runProbeBench(runs);
  // The target compares the probe with the bare SDK's connect + list tools. Where the probe
  // must do more protocol work than that (ping and DELETE in the handshake era, the Streamable
  // HTTP try before an SSE fallback), the target is judged against the bare SDK doing the same
  // work, and the ratio to the bare minimum is shown beside it for information.
  const figures: Figure[] = rows.flatMap((row) => {
    const name = `probe: ${row.server} (${row.era}, ${row.transport})`;
    const project = {
      label: "probe()",
      summary: summary(row.runs, row.probeMedianMs, row.probeP95Ms),
    };
    const bare = slowdownFigure({
      name,
      project,
      reference: {
        label: "bare SDK connect + listTools",
        summary: summary(row.runs, row.bareMedianMs, row.bareP95Ms),
      },
      ratioMeaning: "× the bare SDK's time",
      target: row.fairIsSeparate ? "(informative: the probe does more)" : `≤ ${TARGET_RATIO}×`,
      met: row.fairIsSeparate ? null : row.ratio <= TARGET_RATIO,
      notes: [`protocol ${row.protocolVersion}`, `paired ratio ${row.pairedRatio.toFixed(2)}×`],
    });
    if (!row.fairIsSeparate) return [bare];
    const fair = slowdownFigure({
      name: `${name}, same protocol work`,
      project,
      reference: {
        label: `bare SDK + ${row.extraWork}`,
        summary: summary(row.runs, row.fairMedianMs, row.fairP95Ms),
      },
      ratioMeaning: "× the bare SDK's time for the same work",
      target: `≤ ${TARGET_RATIO}×`,
      met: row.fairRatio <= TARGET_RATIO,
      notes: [
        `requests: probe ${row.probeRequests}, reference ${row.fairRequests}`,
        `paired ratio ${row.fairPairedRatio.toFixed(2)}×`,
      ],
    });
    return [fair, bare];
  });
  return {
    id: "probe",
    title: "Probe of a local MCP server beside the bare SDK",
    figures,
    details: [
      `${runs} timed rounds per server kind after warm-up rounds, the variants' order rotating ` +
      "each round (bench/probe.ts). The probe also tries Streamable HTTP before an SSE " +
      "fallback, pings in the handshake era, closes the session with DELETE and checks every " +
      "request against the SSRF guard; where it does, the target is judged against the bare " +
      "SDK doing the same protocol work.\n",
      "```\n" + formatProbeBench(rows) + "\n```",
    ].join("\n"),
    data: { rows },
    durationSeconds: (performance.now() - started) / 1000,
  };
}
