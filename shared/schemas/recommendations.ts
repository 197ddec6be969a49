/**
 * GET /agents/:agentId/recommendations: which MCP servers to connect an agent to next.
 * Scores come from k-anonymous aggregates over many users (see
 * supabase/migrations/*_agent_mcp_recommendations.sql and the README).
 */
import { z } from "zod";
import { Uuid } from "./ids.ts";

export const RECOMMENDATION_LIMITS = { default: 5, max: 50 } as const;

export const AgentIdParam = z.strictObject({ agentId: Uuid });
export type AgentIdParam = z.infer<typeof AgentIdParam>;

export const RecommendationsQuery = z.strictObject({
  /** How many servers to return, best first: 1 .. 50, default 5. */
  limit: z.coerce.number().int().min(1).max(RECOMMENDATION_LIMITS.max)
    .default(RECOMMENDATION_LIMITS.default),
});
export type RecommendationsQuery = z.infer<typeof RecommendationsQuery>;

export const Recommendation = z.object({
  mcpServerInstanceId: Uuid,
  name: z.string(),
  /**
   * (affinity + 0.05 × popularity) × success rate × (1 − failing share): affinity sums the
   * cosine similarity (over distinct users) between this server and each server the agent uses.
   */
  score: z.number(),
  /** e.g. "used with GitHub by 35+ users, 99.2% success, healthy". */
  reason: z.string(),
}).meta({ id: "Recommendation" });
export type Recommendation = z.infer<typeof Recommendation>;

export const RecommendationList = z.object({
  items: z.array(Recommendation),
}).meta({ id: "RecommendationList" });
export type RecommendationList = z.infer<typeof RecommendationList>;

/** A row of `agent_mcp_recommendations()` as PostgREST returns it (numeric as number). */
export const RecommendationRow = z.object({
  mcp_server_instance_id: Uuid,
  name: z.string(),
  score: z.coerce.number(),
  reason: z.string(),
});
export type RecommendationRow = z.infer<typeof RecommendationRow>;

export function toRecommendation(row: RecommendationRow): Recommendation {
  return {
    mcpServerInstanceId: row.mcp_server_instance_id,
    name: row.name,
    score: row.score,
    reason: row.reason,
  };
}
