// POST /federation/register (enrollment token as the bearer): 201 for a new
// node, 200 for a re-registration; hub/nodes/registration.ts decides.
import { Hono } from "hono";
import type { HubContext } from "../../hub-context.ts";
import { registerNode } from "../../nodes/registration.ts";
import { bearerToken } from "../admin-auth.ts";
import { jsonBody } from "../../../lib/http-errors.ts";

export function registerRoutes(hub: HubContext): Hono {
  const routes = new Hono();
  routes.post("/", async (c) => {
    const result = await registerNode(hub, bearerToken(c.req.header("authorization")), await jsonBody(c), c.req.header("host"));
    return c.json(result.body, result.created ? 201 : 200);
  });
  return routes;
}
