// What the list endpoints take in their query string, and how the node list
// searches, filters, sorts and pages (`after` the last node id of the page
// before, or `offset` rows in).
import { z } from "zod";
import { MODEL_NAME } from "../../kernel/config.ts";
import { DECISION_TYPES } from "../../protocol/messages.ts";
import { REPORT_KINDS } from "../../protocol/reports.ts";
import { NODE_ID_PATTERN } from "../../protocol/node-id.ts";
import { HEALTH_STATES, type NodeRecord } from "../nodes/node-model.ts";
import { WORK_STATES } from "../work/work-model.ts";

const MAX_PAGE = 1000;

export const NODE_SORTS = ["node_id", "health", "last_seen", "version", "outbox_depth"] as const;

export const NodeListQuery = z.object({
  /** A part of the node id, any case. */
  q: z.string().max(63).optional(),
  status: z.enum(HEALTH_STATES).optional(),
  capability: z.string().max(64).optional(),
  sort: z.enum(NODE_SORTS).default("node_id"),
  order: z.enum(["asc", "desc"]).default("asc"),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  after: z.string().max(63).optional(),
});
export type NodeListQuery = z.infer<typeof NodeListQuery>;

/** A yes/no flag in a query: 1 or true, 0 or false. */
export const queryFlag = z.enum(["0", "1", "true", "false"]).transform((v) => v === "1" || v === "true");

/** Pending node ids a decision summary shows at most, unless `pending_shown` says. */
export const PENDING_SHOWN = 10;

/**
 * GET /api/federation/decisions: newest first, `before` a seq. `summary=1`
 * counts each decision's targets and acks instead of listing them (a fleet
 * decision at 10,000 nodes lists 10,000), with the first `pending_shown`
 * pending ids; its targets page through GET .../decisions/:id/targets.
 */
export const DecisionListQuery = z
  .object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
  node: z.string().max(63).optional(),
  before: z.coerce.number().int().min(1).optional(),
  summary: queryFlag.default(false),
  pending_shown: z.coerce.number().int().min(0).max(MAX_PAGE).default(PENDING_SHOWN),
  /** Comma-separated decision types (with summary=1): the Federation page's mode, freeze and capital profile history. */
  types: z
    .string()
    .transform((raw) => raw.split(","))
    .pipe(z.array(z.enum(DECISION_TYPES)).min(1))
    .optional(),
})
  .refine((q) => q.types === undefined || q.summary, { path: ["types"], message: "only with summary=1" });

/** GET /api/federation/decisions/:id/targets: in node id order, `after` the last node id of the page before. */
export const DecisionTargetsQuery = z.strictObject({
  state: z.enum(["pending", "acked", "all"]).default("all"),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
  after: z.string().max(63).optional(),
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

/** Health from best to worst, the order `sort=health` lists in. */
const HEALTH_RANK = Object.fromEntries(HEALTH_STATES.map((state, rank) => [state, rank])) as Record<NodeRecord["health"], number>;

/** Each sort's key; nodes without a value (never heard) come last in either order. */
const SORT_KEY: Record<Exclude<(typeof NODE_SORTS)[number], "node_id">, (n: NodeRecord) => number | string | null> = {
  health: (n) => HEALTH_RANK[n.health],
  last_seen: (n) => n.live.lastSeen,
  version: (n) => n.version,
  outbox_depth: (n) => n.live.outboxDepth,
};

/**
 * `byId`: every node in id order (Fleet.byId(), kept between requests), so
 * the default listing filters without sorting. Another sort orders the
 * matching nodes by its key, then by id. `after` starts past that node id
 * (by id order, as before sorting existed; in another sort, past that row),
 * then `offset` skips rows.
 */
export function pageOfNodes(byId: readonly NodeRecord[], q: NodeListQuery): NodePage {
  const needle = q.q?.toLowerCase();
  const filtered = q.status || q.capability || needle;
  let matching = filtered
    ? byId.filter(
        (n) =>
          (q.status ? n.health === q.status : true) &&
          (q.capability ? n.capabilities.includes(q.capability) : true) &&
          (needle ? n.nodeId.toLowerCase().includes(needle) : true),
      )
    : byId;
  if (q.sort !== "node_id") matching = sortedBy(matching, SORT_KEY[q.sort], q.order === "desc");
  else if (q.order === "desc") matching = matching.toReversed();
  let start = 0;
  if (q.after !== undefined) {
    const after = q.after;
    start = q.sort === "node_id" ? matching.findIndex((n) => (q.order === "asc" ? n.nodeId > after : n.nodeId < after)) : matching.findIndex((n) => n.nodeId === after) + 1;
    if (start < 0) start = matching.length;
  }
  start += q.offset;
  const page = matching.slice(start, start + q.limit);
  const last = page.at(-1);
  const more = start + q.limit < matching.length;
  return { nodes: page, total: matching.length, nextAfter: more && last ? last.nodeId : null };
}

function sortedBy(nodes: readonly NodeRecord[], key: (n: NodeRecord) => number | string | null, descending: boolean): NodeRecord[] {
  // Keys read once per node, not once per comparison.
  const keyed = nodes.map((node) => ({ node, key: key(node) }));
  const sign = descending ? -1 : 1;
  keyed.sort((a, b) => {
    if (a.key === b.key) return a.node.nodeId < b.node.nodeId ? -1 : 1;
    if (a.key === null) return 1;
    if (b.key === null) return -1;
    return (a.key < b.key ? -1 : 1) * sign;
  });
  return keyed.map((k) => k.node);
}

/** GET /federation/nodes/:id/metrics: the last `hours` of 1-minute buckets (the registry keeps 24). */
export const NodeMetricsQuery = z.strictObject({
  hours: z.coerce.number().int().min(1).max(24).default(6),
});

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
