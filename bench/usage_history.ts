/**
 * The usage history's cost and its reports on their own (the `history` scenario of
 * `deno task bench`, bench/scenarios/usage_history.ts), printed as a table with the details:
 *
 *     deno run -A bench/usage_history.ts [--rounds 10] [--singles 400] [--batches 10] [--runs 25]
 */
import { parseArgs } from "node:util";
import { formatTable } from "./report.ts";
import { runUsageHistoryScenario, USAGE_HISTORY_FULL } from "./scenarios/usage_history.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: String(USAGE_HISTORY_FULL.rounds) },
    singles: { type: "string", default: String(USAGE_HISTORY_FULL.singles) },
    batches: { type: "string", default: String(USAGE_HISTORY_FULL.batches) },
    runs: { type: "string", default: String(USAGE_HISTORY_FULL.runs) },
  },
});

// deno-lint-ignore no-console
const say = (line = "") => console.log(line);

const result = await runUsageHistoryScenario({
  rounds: Number(values.rounds),
  singles: Number(values.singles),
  batches: Number(values.batches),
  runs: Number(values.runs),
  progress: (message) => say(`   ${message}`),
});
say();
say(formatTable([result]));
say();
for (const figure of result.figures) {
  if (figure.notes.length) say(`${figure.name}: ${figure.notes.join("; ")}`);
}
say();
say(result.details);
