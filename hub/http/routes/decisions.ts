// /api/federation (admin): issuing decisions, the audit trail, and the mode
// shortcut (a MODE_CHANGE decision). hub/decisions/decisions.ts checks,
// signs and publishes.
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { MODES } from "../../../kernel/types.ts";
import type { Decisions } from "../../decisions/decisions.ts";
import { invalidInput } from "../../errors.ts";
import type { HubContext } from "../../hub-context.ts";
import { decisionView, issuedView } from "../decision-view.ts";
import { DecisionListQuery } from "../list-queries.ts";
import { jsonBody } from "../../../lib/http-errors.ts";
import { parseQuery } from "../request.ts";

const ModeRequest = z.strictObject({
  mode: z.enum(MODES),
  target: z.string().max(63).default("fleet"),
  duration_s: z.number().positive().optional(),
  reason: z.string().max(512).optional(),
  expires_in_s: z.int().min(1).optional(),
});

export function decisionRoutes(hub: HubContext, decisions: Decisions, admin: MiddlewareHandler): Hono {
  const routes = new Hono();

  routes.post("/decisions", admin, async (c) => c.json(issuedView(await decisions.issue(await jsonBody(c))), 201));

  routes.get("/decisions", admin, async (c) => {
    const q = parseQuery(DecisionListQuery, c);
    const stored = await hub.store.decisions.list({ limit: q.limit, node: q.node, beforeSeq: q.before });
    return c.json({ decisions: stored.map(decisionView) });
  });

  routes.post("/mode", admin, async (c) => {
    const parsed = ModeRequest.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalidInput(parsed.error.issues);
    const { mode, target, duration_s, reason, expires_in_s } = parsed.data;
    const payload: Record<string, unknown> = { mode };
    if (duration_s !== undefined) payload.duration_s = duration_s;
    if (reason !== undefined) payload.reason = reason;
    return c.json(issuedView(await decisions.issue({ type: "MODE_CHANGE", target, payload, expires_in_s })), 201);
  });

  return routes;
}
