// POST /federation/register (enrollment token as the bearer): 201 for a new
// node, 200 for a re-registration; hub/nodes/registration.ts decides. Each
// answer is counted (edgefed_registrations_total), a refusal by its error.
import { Hono } from "hono";
import type { HubContext } from "../../hub-context.ts";
import { registerNode } from "../../nodes/registration.ts";
import { bearerToken } from "../../../lib/bearer-token.ts";
import { HttpError, jsonBody } from "../../../lib/http-errors.ts";
import { DomainError } from "../../errors.ts";

export function registerRoutes(hub: HubContext): Hono {
  const routes = new Hono();
  routes.post("/", async (c) => {
    let result;
    try {
      result = await registerNode(hub, bearerToken(c.req.header("authorization")), await jsonBody(c), c.req.header("host"));
    } catch (error) {
      // The API's error string (invalid_token, node_removed, ...): a fixed set, never what the node sent.
      hub.metrics.registrationRefused(error instanceof DomainError || error instanceof HttpError ? error.error : "internal_error");
      throw error;
    }
    hub.metrics.registrationAccepted(result.created);
    return c.json(result.body, result.created ? 201 : 200);
  });
  return routes;
}
