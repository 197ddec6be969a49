/**
 * Connection recommendations for one of the caller's agents. One call to
 * `agent_mcp_recommendations()` under the caller's JWT: the function checks that the agent
 * is the caller's (agent_not_found otherwise, the same for a missing agent and another user's, so no
 * caller learns whether someone else's agent exists) and reads other users' data only as
 * k-anonymous, coarsened aggregates.
 */
import type { DbClient } from "../db/db_client.ts";
import { fromPostgrest } from "../db/postgrest_errors.ts";
import {
  type RecommendationList,
  RecommendationRow,
  toRecommendation,
} from "../schemas/recommendations.ts";

export async function recommendConnections(
  db: DbClient,
  agentId: string,
  limit: number,
): Promise<RecommendationList> {
  const { data, error, status } = await db.rpc("agent_mcp_recommendations", {
    p_agent_id: agentId,
    p_limit: limit,
  });
  if (error) throw fromPostgrest({ error, status }, "recommending connections");
  return { items: RecommendationRow.array().parse(data ?? []).map(toRecommendation) };
}
