// /api/federation (admin): issuing decisions, the audit trail, and the mode
// shortcut (a MODE_CHANGE decision). hub/decisions/decisions.ts checks,
// signs and publishes.
import { Hono } from "hono";
import { z } from "zod";
import { MODES } from "../../../kernel/types.ts";
import { jsonBody } from "../../../lib/http-errors.ts";
import type { Decisions } from "../../decisions/decisions.ts";
import { DomainError, invalidInput } from "../../errors.ts";
import type { HubContext } from "../../hub-context.ts";
import type { ApiAccess } from "../admin-auth.ts";
import { decisionView, issuedView } from "../decision-view.ts";
import { DecisionListQuery } from "../list-queries.ts";
import { parseQuery } from "../request.ts";

/**
 * The contract's `{mode, reason, duration_minutes}` (0 or absent: until the
 * next mode change), plus where it goes and how long it may wait to be
 * delivered. `duration_s` is the older name, kept as an alias.
 */
const ModeRequest = z
  .strictObject({
    mode: z.enum(MODES),
    target: z.string().max(63).default("fleet"),
    duration_minutes: z.number().min(0).optional(),
    duration_s: z.number().positive().optional(),
    reason: z.string().max(512).optional(),
    expires_in_s: z.int().min(1).optional(),
  })
  .refine((body) => body.duration_minutes === undefined || body.duration_s === undefined, {
    path: ["duration_s"],
    message: "give duration_minutes or its alias duration_s, not both",
  });

export function decisionRoutes(hub: HubContext, decisions: Decisions, access: ApiAccess): Hono {
  const routes = new Hono();

  routes.post("/decisions", access.admin, async (c) => c.json(issuedView(await decisions.issue(await jsonBody(c))), 201));

  routes.get("/decisions", access.reader, async (c) => {
    const q = parseQuery(DecisionListQuery, c);
    const stored = await hub.store.decisions.list({ limit: q.limit, node: q.node, beforeSeq: q.before });
    return c.json({ decisions: stored.map(decisionView) });
  });

  routes.get("/decisions/:id", access.reader, async (c) => {
    const id = c.req.param("id");
    const stored = await hub.store.decisions.get(id);
    if (!stored) throw new DomainError("not_found", "unknown_decision", `no decision ${id}`);
    return c.json(decisionView(stored));
  });

  routes.post("/mode", access.admin, async (c) => {
    const parsed = ModeRequest.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalidInput(parsed.error.issues);
    const { mode, target, duration_minutes, duration_s, reason, expires_in_s } = parsed.data;
    const payload: Record<string, unknown> = { mode };
    const minutes = duration_minutes ?? (duration_s === undefined ? undefined : duration_s / 60);
    if (minutes !== undefined) payload.duration_minutes = minutes;
    if (reason !== undefined) payload.reason = reason;
    return c.json(issuedView(await decisions.issue({ type: "MODE_CHANGE", target, payload, expires_in_s })), 201);
  });

  return routes;
}
