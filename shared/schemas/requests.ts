/** Request bodies and query strings of the mcp-connections API. */
import { z } from "zod";
import { ConnectionStatus } from "./connection.ts";
import { ConnectionConfig } from "./connection_config.ts";
import { Uuid } from "./ids.ts";

export const CreateConnectionRequest = z.strictObject({
  agentId: Uuid,
  mcpServerInstanceId: Uuid,
  /** Defaults to `{}` (the probe then uses its defaults). */
  config: ConnectionConfig.optional(),
}).meta({ id: "CreateConnectionRequest" });
export type CreateConnectionRequest = z.infer<typeof CreateConnectionRequest>;

/** Replaces the whole config (send every option you want to keep). */
export const UpdateConnectionRequest = z.strictObject({
  config: ConnectionConfig,
}).meta({ id: "UpdateConnectionRequest" });
export type UpdateConnectionRequest = z.infer<typeof UpdateConnectionRequest>;

export const PAGE_LIMITS = { default: 50, max: 200 } as const;

const Limit = z.coerce.number().int().min(1).max(PAGE_LIMITS.max).default(PAGE_LIMITS.default);
/** An opaque cursor from a previous page's `nextCursor`. */
const Cursor = z.string().min(1).max(200);

export const ListConnectionsQuery = z.strictObject({
  agentId: Uuid.optional(),
  status: ConnectionStatus.optional(),
  /** `true` (default): active connections; `false`: disconnected ones (history); `all`: both. */
  active: z.enum(["true", "false", "all"]).default("true"),
  limit: Limit,
  cursor: Cursor.optional(),
});
export type ListConnectionsQuery = z.infer<typeof ListConnectionsQuery>;

export const AdminListConnectionsQuery = z.strictObject({
  active: z.enum(["true", "false", "all"]).default("all"),
  limit: Limit,
  cursor: Cursor.optional(),
});
export type AdminListConnectionsQuery = z.infer<typeof AdminListConnectionsQuery>;

export const ConnectionIdParam = z.strictObject({ id: Uuid });
