/**
 * The prose a newcomer reads stays short and intact: the README fits in about
 * 150 lines, no inline code span is broken across lines (a command split by a
 * line break cannot be copied), and every relative link points at a file that
 * is in the repository.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { projectRootFromHere } from "../scripts/stack/project_config.ts";

const root = projectRootFromHere();

async function markdownFiles(): Promise<string[]> {
  const files = [join(root, "README.md"), join(root, "bench", "RESULTS.md")];
  for await (const entry of Deno.readDir(join(root, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(join(root, "docs", entry.name));
  }
  return files.sort();
}

/** Lines outside fenced code blocks, with their 1-based line numbers. */
function proseLines(text: string): Array<[number, string]> {
  const lines: Array<[number, string]> = [];
  let fenced = false;
  text.split("\n").forEach((line, index) => {
    if (line.trimStart().startsWith("```")) fenced = !fenced;
    else if (!fenced) lines.push([index + 1, line]);
  });
  return lines;
}

Deno.test("the README is about 150 lines", async () => {
  const lines = (await Deno.readTextFile(join(root, "README.md"))).trimEnd().split("\n");
  assert.ok(lines.length <= 155, `README.md has ${lines.length} lines`);
});

Deno.test("no inline code span in the docs is broken across lines", async () => {
  const broken: string[] = [];
  for (const file of await markdownFiles()) {
    for (const [number, line] of proseLines(await Deno.readTextFile(file))) {
      const ticks = line.match(/`/g)?.length ?? 0;
      if (ticks % 2 === 1) broken.push(`${relative(root, file)}:${number}: ${line}`);
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("every relative link in the docs points at a file in the repository", async () => {
  const missing: string[] = [];
  for (const file of await markdownFiles()) {
    for (const [number, line] of proseLines(await Deno.readTextFile(file))) {
      for (const match of line.matchAll(/\]\(([^)\s#]+)(#[^)]*)?\)/g)) {
        const target = match[1]!;
        if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
        try {
          await Deno.stat(join(dirname(file), target));
        } catch {
          missing.push(`${relative(root, file)}:${number}: ${target}`);
        }
      }
    }
  }
  assert.deepEqual(missing, []);
});
