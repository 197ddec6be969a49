/**
 * Connection recommendations for one of the caller's agents. One call to
 * `agent_mcp_recommendations()` under the caller's JWT: the function checks that the agent
 * is the caller's (PT404 otherwise, the same for a missing agent and another user's, so no
 * caller learns whether someone else's agent exists) and reads other users' data only as
 * k-anonymous, coarsened aggregates.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { fromPostgrest, PG } from "../db/postgrest_errors.ts";
import { AppError } from "../errors/app_error.ts";
import {
  type RecommendationList,
  RecommendationRow,
  toRecommendation,
} from "../schemas/recommendations.ts";

export async function recommendConnections(
  db: SupabaseClient,
  agentId: string,
  limit: number,
): Promise<RecommendationList> {
  const { data, error, status } = await db.rpc("agent_mcp_recommendations", {
    p_agent_id: agentId,
    p_limit: limit,
  });
  if (error) {
    if (error.code === PG.connectionNotFound) {
      throw new AppError("agent_not_found", `Agent ${agentId} was not found.`);
    }
    throw fromPostgrest({ error, status }, "recommending connections");
  }
  return { items: RecommendationRow.array().parse(data ?? []).map(toRecommendation) };
}
