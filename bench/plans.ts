/**
 * Reading `EXPLAIN (FORMAT JSON)` output: the execution time, the plan as indented text, and
 * which scans touched a table (index or not, rows returned and thrown away).
 */

export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Scan Direction"?: string;
  "Parent Relationship"?: string;
  "Subplan Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Index Recheck"?: number;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  "Heap Fetches"?: number;
  Plans?: PlanNode[];
}

export interface Explained {
  Plan: PlanNode;
  "Execution Time": number;
  "Planning Time"?: number;
}

/** One scan of a table or index. */
export interface Scan {
  node: string;
  relation: string | null;
  index: string | null;
  rows: number;
  removed: number;
}

const SCANS = new Set([
  "Seq Scan",
  "Index Scan",
  "Index Only Scan",
  "Bitmap Index Scan",
  "Bitmap Heap Scan",
  "Function Scan",
]);
const INDEX_SCANS = new Set(["Index Scan", "Index Only Scan", "Bitmap Index Scan"]);

function walk(node: PlanNode, visit: (node: PlanNode, depth: number) => void, depth = 0): void {
  visit(node, depth);
  for (const child of node.Plans ?? []) walk(child, visit, depth + 1);
}

/** Every scan in the plan, in plan order. */
export function scans(root: PlanNode): Scan[] {
  const found: Scan[] = [];
  walk(root, (node) => {
    if (!SCANS.has(node["Node Type"])) return;
    const loops = node["Actual Loops"] ?? 1;
    found.push({
      node: node["Scan Direction"] === "Backward"
        ? `${node["Node Type"]} Backward`
        : node["Node Type"],
      relation: node["Relation Name"] ?? null,
      index: node["Index Name"] ?? null,
      rows: (node["Actual Rows"] ?? 0) * loops,
      removed: ((node["Rows Removed by Filter"] ?? 0) +
        (node["Rows Removed by Index Recheck"] ?? 0)) * loops,
    });
  });
  return found;
}

/** The scans of `table`: its heap, or an index whose name contains the table's name. */
export function scansOf(root: PlanNode, table: string): Scan[] {
  return scans(root).filter((scan) =>
    scan.relation === table || (scan.index !== null && scan.index.includes(table))
  );
}

export function isIndexScan(scan: Scan): boolean {
  return INDEX_SCANS.has(scan.node.replace(/ Backward$/, ""));
}

/** The plan as indented lines: node type, relation, index, rows, rows removed. */
export function planText(root: PlanNode): string {
  const lines: string[] = [];
  walk(root, (node, depth) => {
    const parts = [node["Subplan Name"] ? `${node["Subplan Name"]}: ` : "", node["Node Type"]];
    if (node["Scan Direction"] === "Backward") parts.push(" Backward");
    if (node["Index Name"]) parts.push(` using ${node["Index Name"]}`);
    if (node["Relation Name"]) parts.push(` on ${node["Relation Name"]}`);
    const loops = node["Actual Loops"] ?? 1;
    if (node["Actual Rows"] !== undefined) parts.push(`  rows=${node["Actual Rows"] * loops}`);
    const removed = (node["Rows Removed by Filter"] ?? 0) * loops;
    if (removed) parts.push(` removed=${removed}`);
    const hit = node["Shared Hit Blocks"];
    const read = node["Shared Read Blocks"];
    if (hit !== undefined || read !== undefined) {
      parts.push(` buffers hit=${hit ?? 0} read=${read ?? 0}`);
    }
    lines.push(`${"  ".repeat(depth)}${parts.join("")}`);
  });
  return lines.join("\n");
}

/** A one-line account of how a plan reached a table, e.g. for the results table. */
export function scanSummary(found: readonly Scan[]): string {
  if (found.length === 0) return "no scan of the table";
  return found.map((scan) => {
    const where = scan.index ?? scan.relation ?? "?";
    const removed = scan.removed ? `, ${scan.removed.toLocaleString("en-US")} removed` : "";
    return `${scan.node} ${where} (${scan.rows.toLocaleString("en-US")} rows${removed})`;
  }).join("; ");
}
