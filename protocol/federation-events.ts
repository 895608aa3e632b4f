// The federation's input stream: what the hub observed of its fleet, one
// event per line of JSONL, in the order the hub observed it. The federation
// roles (issue 12) are evaluated over this stream, live in the hub and
// offline by `npm run federation -- replay`; the hub exports what it
// recorded in this shape (`GET /api/federation/events`), so a config can be
// tried on last week's data. `at` is the hub's time of observation in ms
// (the roles take time only from here, never from a clock, so a replay
// decides exactly as the live run did).
import { z } from "zod";
import { ModelPerformanceMessage, PortfolioMessage, SystemHealthMessage, VerdictEventMessage } from "./messages.ts";
import { NODE_ID_PATTERN } from "./node-id.ts";

const node = z.string().regex(NODE_ID_PATTERN);
const at = z.int().min(0);
/** The hub's health states of a node (hub/nodes/node-model.ts HEALTH_STATES). */
export const NODE_HEALTH_STATES = ["healthy", "degraded", "unhealthy", "offline"] as const;
/** How a position closed, as a close event says. */
export const CLOSE_EXITS = ["stop_loss", "take_profit", "manual", "liquidation"] as const;
const nodeHealth = z.enum(NODE_HEALTH_STATES);

export const FederationEvent = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("portfolio"), node, at, report: PortfolioMessage }),
  z.strictObject({ type: z.literal("health"), node, at, report: SystemHealthMessage }),
  z.strictObject({ type: z.literal("model"), node, at, report: ModelPerformanceMessage }),
  /** A node's health as the hub judges it from heartbeats (not the strategy's system health). */
  z.strictObject({ type: z.literal("node_health"), node, at, state: nodeHealth }),
  z.strictObject({ type: z.literal("verdict"), node, at, event: VerdictEventMessage }),
  /** A position close the node reported, with its outcome (for per-symbol protections). */
  z.strictObject({
    type: z.literal("close"),
    node,
    at,
    close: z.strictObject({
      symbol: z.string().min(1).max(32),
      ts: at,
      pnl_usd: z.number().optional(),
      exit: z.enum(CLOSE_EXITS).optional(),
    }),
  }),
  /** The passing of time with nothing observed: lets timers (holds, locks) run in a replay. */
  z.strictObject({ type: z.literal("tick"), at }),
]);
export type FederationEvent = z.infer<typeof FederationEvent>;
export type FederationEventType = FederationEvent["type"];
