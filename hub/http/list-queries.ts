// What the list endpoints take in their query string, and how the node list
// filters and pages (by node id, `after` the last one of the page before).
import { z } from "zod";
import { MODEL_NAME } from "../../kernel/config.ts";
import { REPORT_KINDS } from "../../protocol/reports.ts";
import { HEALTH_STATES, type NodeRecord } from "../nodes/node-model.ts";

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
