/** Response bodies of the mcp-connections API that are not a bare connection. */
import { z } from "zod";
import { Connection } from "./connection.ts";
import { ConnectionTestResult } from "./test_result.ts";
import { UsageStats } from "./usage.ts";

export const ConnectionPage = z.object({
  items: z.array(Connection),
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: z.string().nullable(),
}).meta({ id: "ConnectionPage" });
export type ConnectionPage = z.infer<typeof ConnectionPage>;

export const TestConnectionResponse = z.object({
  connection: Connection,
  result: ConnectionTestResult,
}).meta({ id: "TestConnectionResponse" });
export type TestConnectionResponse = z.infer<typeof TestConnectionResponse>;

export const RecordUsageResponse = z.object({
  usageStats: UsageStats,
}).meta({ id: "RecordUsageResponse" });
export type RecordUsageResponse = z.infer<typeof RecordUsageResponse>;

/** The caller's statistics (`user_mcp_connection_stats`), zeros when they have no connection. */
export const UserStats = z.object({
  totalConnections: z.number().int(),
  activeConnections: z.number().int(),
  errorConnections: z.number().int(),
  lastConnectionUsed: z.string().nullable(),
  firstConnectionCreated: z.string().nullable(),
}).meta({ id: "UserStats" });
export type UserStats = z.infer<typeof UserStats>;

/** Totals over every user's connections (admins). */
export const AdminStats = z.object({
  totalConnections: z.number().int(),
  activeConnections: z.number().int(),
  connectedConnections: z.number().int(),
  errorConnections: z.number().int(),
  testingConnections: z.number().int(),
  disconnectedConnections: z.number().int(),
  users: z.number().int(),
  agents: z.number().int(),
  servers: z.number().int(),
  lastConnectionUsed: z.string().nullable(),
  firstConnectionCreated: z.string().nullable(),
}).meta({ id: "AdminStats" });
export type AdminStats = z.infer<typeof AdminStats>;

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
}).meta({ id: "Error" });
export type ErrorBody = z.infer<typeof ErrorBody>;
