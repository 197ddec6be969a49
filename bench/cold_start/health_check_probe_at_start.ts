/**
 * mcp-health-check as it started before issue 14: the probe's implementation and the MCP SDK
 * loaded at start (probe_at_start.ts) instead of at the first probe (`createProbe()`).
 */
import "./probe_at_start.ts";
import "../../functions/mcp-health-check/index.ts";
