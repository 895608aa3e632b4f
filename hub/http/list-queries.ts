// What the list endpoints take in their query string, and how the node list
// filters and pages (by node id, `after` the last one of the page before).
import { z } from "zod";
import { MODEL_NAME } from "../../kernel/config.ts";
import { REPORT_KINDS } from "../../protocol/reports.ts";
import { NODE_ID_PATTERN } from "../../protocol/node-id.ts";
import { HEALTH_STATES, type NodeRecord } from "../nodes/node-model.ts";
import { WORK_STATES } from "../work/work-model.ts";

const MAX_PAGE = 1000;

export const NodeListQuery = z.object({
  status: z.enum(HEALTH_STATES).optional(),
  capability: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
  after: z.string().max(63).optional(),
});
export type NodeListQuery = z.infer<typeof NodeListQuery>;

export const DecisionListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
  node: z.string().max(63).optional(),
  before: z.coerce.number().int().min(1).optional(),
});

/** GET /federation/nodes/:id/history: one kind, newest first, `before` the seq the last page ended at. */
export const ReportHistoryQuery = z
  .object({
    kind: z.enum(REPORT_KINDS),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
    before: z.coerce.number().int().min(1).optional(),
    model: z.string().regex(MODEL_NAME, "a model name").optional(),
  })
  .refine((q) => q.model === undefined || q.kind === "models", { path: ["model"], message: "only with kind=models" });

export interface NodePage {
  nodes: NodeRecord[];
  /** How many match the filters, on all pages. */
  total: number;
  /** The `after` of the next page, or null on the last. */
  nextAfter: string | null;
}

export function pageOfNodes(nodes: Iterable<NodeRecord>, q: NodeListQuery): NodePage {
  const matching = [...nodes]
    .filter((n) => (q.status ? n.health === q.status : true) && (q.capability ? n.capabilities.includes(q.capability) : true))
    .sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  const start = q.after ? matching.findIndex((n) => n.nodeId > q.after!) : 0;
  const page = start < 0 ? [] : matching.slice(start, start + q.limit);
  const last = page.at(-1);
  const more = start >= 0 && start + q.limit < matching.length;
  return { nodes: page, total: matching.length, nextAfter: more && last ? last.nodeId : null };
}

/** A time in a query: ms since the epoch, or an ISO 8601 date or time (`2026-12-01`, `2026-12-01T03:00:00Z`). */
const time = z.string().transform((raw, ctx) => {
  const ms = /^\d{1,15}$/.test(raw) ? Number(raw) : /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: "custom", message: "a time: ms since the epoch or an ISO 8601 date or time" });
    return z.NEVER;
  }
  return ms;
});

/** Events per page of the export: a few MB of JSON lines at most. */
export const MAX_EVENTS_PAGE = 10_000;

/**
 * GET /api/federation/events: `from` (included) to `to` (excluded) on the
 * hub's time of observation, one node's or the fleet's, `limit` a page,
 * `cursor` where the page before ended. A parameter it does not name is
 * refused, so a misspelt `form=` does not export everything.
 */
export const FederationEventsQuery = z
  .strictObject({
    from: time.optional(),
    to: time.optional(),
    node: z.string().regex(NODE_ID_PATTERN, "a node id").optional(),
    limit: z.coerce.number().int().min(1).max(MAX_EVENTS_PAGE).default(1000),
    cursor: z.string().regex(/^\d{1,15}$/, "the cursor of the page before (its Link or X-Next-Cursor header)").transform(Number).optional(),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, { path: ["to"], message: "must be after from" });

/** GET /api/federation/alerts: those raised at or after `since`, newest first. */
export const AlertListQuery = z.strictObject({
  since: time.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
});

/** GET /api/federation/roles: how many of the latest role decisions and conflicts to show. */
export const RoleRecordsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
});

/** GET /api/federation/work: newest first, `before` the seq the page before ended at (its next_before). */
export const WorkListQuery = z.strictObject({
  state: z.enum(WORK_STATES).optional(),
  kind: z.string().max(64).optional(),
  node: z.string().regex(NODE_ID_PATTERN, "a node id").optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
  before: z.coerce.number().int().min(1).optional(),
});
