/** /agents/:agentId/recommendations: which MCP servers to connect an agent to next. */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { recommendConnections } from "../../../shared/domain/recommendations.ts";
import { BEARER_AUTH, errorResponses, jsonContent } from "../../../shared/http/openapi.ts";
import type { UserVariables } from "../../../shared/http/user_auth.ts";
import {
  AgentIdParam,
  RecommendationList,
  RecommendationsQuery,
} from "../../../shared/schemas/recommendations.ts";

type App = OpenAPIHono<{ Variables: UserVariables }>;

export const recommendationsRoute = createRoute({
  method: "get",
  path: "/agents/{agentId}/recommendations",
  tags: ["recommendations"],
  summary: "MCP servers to connect the agent to next, best first",
  description: [
    "Ranks the running MCP servers the agent does not use yet. Signals: which servers agents",
    "use together, their usage success rate and the health of their connections, all",
    "aggregated over many users and refreshed on a schedule",
    "(`refresh_agent_mcp_recommendations()`).",
    "",
    "Score = (affinity + 0.05 × popularity) × success rate × (1 − failing share), where",
    "affinity sums, over each server the agent uses, the cosine similarity",
    "users(both) / √(users(s) × users(c)) in distinct users; popularity is",
    "ln(1 + users) / ln(1 + most users) and ranks servers for agents without neighbours;",
    "success rate is the mean of per-user success rates; failing share is the share of",
    "users whose connections to the server mostly fail their checks.",
    "",
    "Private by construction: an aggregate enters only when it covers at least k distinct",
    "users (k ≥ 5, configurable), each user counts once, and counts, rates and shares are",
    "coarsened (counts floored to two significant digits in steps of at least 5, success to",
    "0.1 %, failing share to 10 %) before they make a score or a reason. Servers that are not",
    "running, that fail their checks (failing share ≥ 50 %) or that the agent already uses",
    "are left out. Another user's agent answers 404, as a missing one does.",
  ].join("\n"),
  security: BEARER_AUTH,
  request: { params: AgentIdParam, query: RecommendationsQuery },
  responses: {
    200: jsonContent(RecommendationList, "Recommended servers, best first (may be empty)"),
    ...errorResponses(400, 401, 404, 503),
  },
});

export function registerRecommendationRoutes(app: App): void {
  app.openapi(recommendationsRoute, async (c) => {
    const { agentId } = c.req.valid("param");
    const { limit } = c.req.valid("query");
    return c.json(await recommendConnections(c.var.db, agentId, limit), 200);
  });
}
