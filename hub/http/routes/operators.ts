// /api/federation/operators (admin): named admin and viewer tokens. POST
// {name, role} creates one and answers its token (the only time it is shown);
// GET lists them (never a token nor its hash); DELETE /:name revokes one and
// POST /:name/rotate gives it a new token: either way the old token and the
// operator's dashboard sessions stop at once. Every action is audited under
// the caller (hub/identity/operators.ts).
import { Hono } from "hono";
import { z } from "zod";
import { jsonBody } from "../../../lib/http-errors.ts";
import { invalidInput } from "../../errors.ts";
import type { HubContext } from "../../hub-context.ts";
import type { BearerVerifier } from "../../identity/bearer-verifier.ts";
import { createOperator, listedOperator, OPERATOR_ROLES, revokeOperator, rotateOperator, type ListedOperator } from "../../identity/operators.ts";
import { actorOf, type ApiAccess } from "../admin-auth.ts";

const OperatorRequest = z.strictObject({ name: z.string().max(63), role: z.enum(OPERATOR_ROLES) });

export function operatorView(operator: ListedOperator): object {
  return {
    id: operator.id,
    name: operator.name,
    role: operator.role,
    created_at: operator.createdAt,
    created_by: operator.createdBy,
    rotated_at: operator.rotatedAt,
    revoked: operator.revokedAt !== null,
    revoked_at: operator.revokedAt,
  };
}

export function operatorRoutes(hub: HubContext, access: ApiAccess, verifier: BearerVerifier): Hono {
  const routes = new Hono();

  routes.get("/operators", access.admin, async (c) => c.json({ operators: (await hub.store.operators.list()).map((o) => operatorView(listedOperator(o))) }));

  routes.post("/operators", access.admin, async (c) => {
    const parsed = OperatorRequest.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalidInput(parsed.error.issues);
    const actor = actorOf(c);
    const { token, operator } = await createOperator(hub.store, parsed.data, actor, hub.clock());
    hub.log(`operator ${operator.name} (${operator.role}) created by ${actor}`);
    return c.json({ token, ...operatorView(operator) }, 201);
  });

  routes.delete("/operators/:name", access.admin, async (c) => {
    const actor = actorOf(c);
    const operator = await revokeOperator(hub.store, c.req.param("name"), actor, hub.clock());
    verifier.forget(operator.id);
    hub.log(`operator ${operator.name} revoked by ${actor}`);
    return c.json(operatorView(operator));
  });

  routes.post("/operators/:name/rotate", access.admin, async (c) => {
    const actor = actorOf(c);
    const { token, operator } = await rotateOperator(hub.store, c.req.param("name"), actor, hub.clock());
    verifier.forget(operator.id);
    hub.log(`operator ${operator.name}'s token rotated by ${actor}`);
    return c.json({ token, ...operatorView(operator) });
  });

  return routes;
}
