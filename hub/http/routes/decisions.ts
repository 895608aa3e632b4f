// /api/federation: issuing decisions (admin; `?dry_run=1` checks one and
// says whom it would reach), the audit trail (reader), and the mode shortcut
// (admin, a MODE_CHANGE decision; dry_run too). hub/decisions/decisions.ts checks, signs
// and publishes.
import { Hono, type Context } from "hono";
import { z } from "zod";
import { MODES } from "../../../kernel/types.ts";
import { jsonBody } from "../../../lib/http-errors.ts";
import type { Decisions } from "../../decisions/decisions.ts";
import { DomainError, invalidInput } from "../../errors.ts";
import type { HubContext } from "../../hub-context.ts";
import { operatorOrigin } from "../../decisions/decision-origin.ts";
import { actorOf, type ApiAccess } from "../admin-auth.ts";
import { decisionSummaryView, decisionTargetView, decisionView, issuedView } from "../decision-view.ts";
import { DecisionListQuery, DecisionTargetsQuery, queryFlag } from "../list-queries.ts";
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

/** `?dry_run=1` (or true): check and count the targets, issue nothing. */
const IssueQuery = z.strictObject({ dry_run: queryFlag.optional() });
const DRY_RUN_TARGETS_SHOWN = 100;

export function decisionRoutes(hub: HubContext, decisions: Decisions, access: ApiAccess): Hono {
  const routes = new Hono();

  /** Issues a decision, or with `?dry_run=1` checks it the same way and says whom it would reach (the dashboard's confirmation). */
  async function issueOrTry(c: Context, request: unknown): Promise<Response> {
    if (parseQuery(IssueQuery, c).dry_run) {
      const { targets } = await decisions.dryRun(request);
      return c.json({ valid: true, reaches: targets.length, targets: targets.slice(0, DRY_RUN_TARGETS_SHOWN) });
    }
    return c.json(issuedView(await decisions.issue(request, operatorOrigin(actorOf(c)))), 201);
  }

  routes.post("/decisions", access.admin, async (c) => issueOrTry(c, await jsonBody(c)));

  routes.get("/decisions", access.reader, async (c) => {
    const q = parseQuery(DecisionListQuery, c);
    const options = { limit: q.limit, node: q.node, beforeSeq: q.before };
    if (q.summary) {
      const summaries = await hub.store.decisions.summaries({ ...options, types: q.types, pendingShown: q.pending_shown });
      return c.json({ decisions: summaries.map(decisionSummaryView) });
    }
    const stored = await hub.store.decisions.list(options);
    return c.json({ decisions: stored.map(decisionView) });
  });

  // One decision's targets, a page at a time: what a summary counts.
  routes.get("/decisions/:id/targets", access.reader, async (c) => {
    const id = c.req.param("id");
    const q = parseQuery(DecisionTargetsQuery, c);
    // One more than asked, to tell whether another page follows.
    const found = await hub.store.decisions.targets(id, { state: q.state, limit: q.limit + 1, afterNodeId: q.after });
    if (!found) throw unknownDecision(id);
    const page = found.slice(0, q.limit);
    return c.json({ decision_id: id, state: q.state, targets: page.map(decisionTargetView), next_after: found.length > q.limit ? page.at(-1)!.nodeId : null });
  });

  routes.get("/decisions/:id", access.reader, async (c) => {
    const id = c.req.param("id");
    const stored = await hub.store.decisions.get(id);
    if (!stored) throw unknownDecision(id);
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
    return issueOrTry(c, { type: "MODE_CHANGE", target, payload, expires_in_s });
  });

  return routes;
}

function unknownDecision(id: string): DomainError {
  return new DomainError("not_found", "unknown_decision", `no decision ${id}`);
}
