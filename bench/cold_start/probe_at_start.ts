/**
 * Loads the probe's implementation and the MCP SDK before the modules imported after this one
 * evaluate (a top-level await): the probe as the functions loaded it at start before
 * `createProbe()` deferred it. A probe of an invalid URL loads it and is refused at once.
 */
import { probe } from "../../shared/mcp/mod.ts";

await probe("not a url").catch(() => {});
