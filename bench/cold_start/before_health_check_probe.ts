/**
 * mcp-health-check as it started before issue 14's cuts: supabase-js loaded and its service
 * client built (before_health_check.ts), and the probe's implementation and the MCP SDK loaded
 * at start (probe_at_start.ts) instead of at the first probe (`createProbe()`).
 */
import "./probe_at_start.ts";
import "./before_health_check.ts";
