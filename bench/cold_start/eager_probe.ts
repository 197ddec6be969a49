/**
 * The cold start's "before": mcp-connections with the probe (shared/mcp/mod.ts and the MCP SDK)
 * loaded at start, as its index.ts did before the probe became a dynamic import.
 */
import "../../shared/mcp/mod.ts";
import "../../functions/mcp-connections/index.ts";
