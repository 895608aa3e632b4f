// MQTT ingest: every message on a node topic is parsed, validated against its
// protocol/ schema and applied to the fleet view. Whatever does not fit
// (unknown topic or node, bad or oversized payload, a birth naming another
// node, a retained copy of what the protocol does not retain) is counted and
// dropped; nothing a node sends can throw out of here.
import type { DecisionAckMessage } from "../../protocol/messages.ts";
import type { WorkProgressMessage, WorkResultMessage } from "../../protocol/work-messages.ts";
import { decodeTopic, isNodeToHubKind, parseNodeTopic, retainAllowed, type MessageOf, type NodeToHubKind } from "../../protocol/topics.ts";
import type { Fleet } from "../nodes/fleet.ts";
import type { NodeRecord } from "../nodes/node-model.ts";
import type { HeardNumber } from "../nodes/ordered-write.ts";
import { DropCounter } from "./drop-counter.ts";
import type { PublishBudget } from "../broker/publish-budget.ts";
import { MAX_MODELS_PER_NODE, type ReportKind, type ReportOf } from "../../protocol/reports.ts";
import { applyBirth, applyClose, applyHeartbeat, applyReport, applyState, applyVerdict, isModelRefused } from "./node-messages.ts";

export interface IngestStats {
  received: number;
  applied: number;
  dropped: number;
  dropped_by_reason: Record<string, number>;
}

/** What ingest hands on beyond the fleet view. */
export interface IngestHooks {
  /** Records a decision ack; resolves once stored, with why it was refused, or null. */
  onAck(nodeId: string, ack: DecisionAckMessage, now: number): Promise<string | null>;
  /** A node (re)connected. */
  onBirth(nodeId: string, now: number): void;
  /** A work package's progress or result; resolves once stored, with why it was refused (late, stale), or null. Must queue its write before returning. */
  onWorkProgress(nodeId: string, message: WorkProgressMessage, now: number): Promise<string | null>;
  onWorkResult(nodeId: string, message: WorkResultMessage, now: number): Promise<string | null>;
}

/**
 * A receipted message's outbox id (protocol/receipts.ts) and when ingest is
 * done with it: at once, or (an ack, a work message) once its handler
 * answers; that rejects on a hub error, which gets no receipt.
 */
export interface TakenOutboxRef {
  ob: number;
  handled: Promise<unknown> | null;
}

/** A message whose handler answers later (an ack, once stored): counted then. */
const PENDING = Symbol("pending");

/** Why a valid message was not applied; counted as a drop with this reason. */
interface Refusal {
  reason: string;
  detail: string;
}

/** What a handler may change besides the node's record. */
interface HandlerContext {
  fleet: Fleet;
  hooks: IngestHooks;
}

/**
 * Applies one decoded message of kind K from a registered node; returns null,
 * or why it refused it. A handler whose effect must first be checked against
 * the store (an ack) answers with a promise; the message is counted then.
 */
type Handler<K extends NodeToHubKind> = (
  context: HandlerContext,
  node: NodeRecord,
  message: MessageOf<K>,
  now: number,
  retained: boolean,
) => Refusal | null | Promise<Refusal | null>;

function tooManyModels(report: object): Refusal {
  return { reason: "too many models", detail: `model ${(report as ReportOf["models"]).model_name} past the ${MAX_MODELS_PER_NODE} a node may report` };
}

/**
 * Several replicas (fleet.ordersInDatabase): a verdict, close or report is
 * only heard here; whether it is new is known once the write records it
 * (hub/nodes/ordered-write.ts).
 */
function heardNumber(fleet: Fleet, node: NodeRecord, heard: HeardNumber): void {
  node.live.lastSeen = heard.at;
  fleet.heardNumber(node, heard);
}

/** A strategy report's: the latest of its series in the fleet view at once, its history with the next flush. */
function reportHandler<K extends ReportKind>(kind: K): Handler<K> {
  return ({ fleet }, node, message, now) => {
    const report = message as ReportOf[K];
    if (fleet.ordersInDatabase) {
      if (isModelRefused(node.live.reports, kind, report)) return tooManyModels(report);
      heardNumber(fleet, node, { kind: "report", at: now, record: { nodeId: node.nodeId, kind, report, receivedAt: now } });
      fleet.touched(node, now);
      return null;
    }
    const outcome = applyReport(node, kind, report, now);
    if (outcome === "too many models") return tooManyModels(report);
    if (outcome === "new") fleet.reported({ nodeId: node.nodeId, kind, report, receivedAt: now });
    fleet.touched(node, now);
    return null;
  };
}

/** A work package message's: stored fenced by attempt (hub/work/work-scheduler.ts); a refused one (late, stale) is counted as a drop. */
function workHandler<K extends "work/progress" | "work/result">(
  apply: (hooks: IngestHooks, nodeId: string, message: MessageOf<K>, now: number) => Promise<string | null>,
): Handler<K> {
  return async ({ fleet, hooks }, node, message, now) => {
    const problem = await apply(hooks, node.nodeId, message, now);
    node.live.lastSeen = now;
    fleet.touched(node, now);
    return problem ? { reason: "work message refused", detail: problem } : null;
  };
}

/** One handler per node->hub kind of the topic table: a kind without one does not compile. */
export const INGEST_HANDLERS: { [K in NodeToHubKind]: Handler<K> } = {
  state({ fleet }, node, state, now, retained) {
    applyState(node, state, now, retained);
    fleet.touched(node, now, state.state === "offline" ? "node said offline (last will or clean stop)" : undefined);
    return null;
  },
  birth({ fleet, hooks }, node, birth, now) {
    if (birth.node_id !== node.nodeId) return { reason: "wrong node", detail: `birth names node ${birth.node_id}` };
    applyBirth(node, birth, now);
    hooks.onBirth(node.nodeId, now);
    fleet.touched(node, now);
    fleet.changed(node.nodeId);
    return null;
  },
  heartbeat({ fleet }, node, heartbeat, now) {
    applyHeartbeat(node, heartbeat, now);
    fleet.metrics.heartbeat(node.nodeId, heartbeat, now);
    fleet.touched(node, now);
    return null;
  },
  verdicts({ fleet }, node, event, now) {
    if (fleet.ordersInDatabase) heardNumber(fleet, node, { kind: "verdict", at: now, event });
    else if (applyVerdict(node, event, now) === "new") {
      fleet.observed({ type: "verdict", node: node.nodeId, at: now, event });
      fleet.metrics.verdict(node.nodeId, event.verdict.verdict, event.verdict.reasons, now);
    }
    fleet.touched(node, now);
    return null;
  },
  closes({ fleet }, node, close, now) {
    if (fleet.ordersInDatabase) heardNumber(fleet, node, { kind: "close", at: now, close });
    else if (applyClose(node, close, now) === "new") {
      const { seq: _, ...outcome } = close; // the close number only orders the wire
      fleet.observed({ type: "close", node: node.nodeId, at: now, close: outcome });
    }
    fleet.touched(node, now);
    return null;
  },
  async "cmd/ack"({ fleet, hooks }, node, ack, now) {
    // Checked against the audit trail where it is stored: counted once that answers.
    const problem = await hooks.onAck(node.nodeId, ack, now);
    if (problem) return { reason: "bad ack", detail: problem };
    node.live.lastSeen = now;
    fleet.touched(node, now);
    return null;
  },
  "work/progress": workHandler((hooks, node, message, now) => hooks.onWorkProgress(node, message, now)),
  "work/result": workHandler((hooks, node, message, now) => hooks.onWorkResult(node, message, now)),
  portfolio: reportHandler("portfolio"),
  health: reportHandler("health"),
  models: reportHandler("models"),
};

/** The node's own time of a message: its `ts`, an ack's `appliedAt`; null for one without (state). */
function sentAtOf(message: object): number | null {
  if ("ts" in message) return message.ts as number;
  if ("appliedAt" in message) return message.appliedAt as number;
  return null;
}

export class Ingest {
  /** The node's time of the message handle() last decoded, or null; read right after it (the ingest lag, hub/metrics). */
  lastSentAt: number | null = null;
  /**
   * The outbox id handle() last took, to receipt once the commit holding the
   * message resolves; read right after it. Set for a message applied, a
   * duplicate, or one refused for good (its schema, a bad ack): none of
   * those would ever be taken if sent again. Null without `ob` (an agent
   * from before receipts), and for what is dropped before its payload is
   * read (unknown node, over the publish budget) or on a hub error: the node
   * sends those again.
   */
  lastOutboxRef: TakenOutboxRef | null = null;
  private received = 0;
  private applied = 0;
  private readonly drops: DropCounter;
  private readonly handlerContext: HandlerContext;

  constructor(
    private readonly fleet: Fleet,
    hooks: IngestHooks,
    log: (line: string) => void,
    private readonly clock: () => number = Date.now,
    /** With an external broker (Mosquitto has no per-client publish rate): a node's messages over it are dropped here. */
    private readonly publishBudget: PublishBudget | null = null,
  ) {
    this.drops = new DropCounter(log);
    this.handlerContext = { fleet, hooks };
  }

  handle(topic: string, payload: Buffer, retained: boolean): void {
    const now = this.clock();
    this.received++;
    this.lastSentAt = null;
    this.lastOutboxRef = null;
    try {
      const outcome = this.apply(topic, payload, retained, now);
      if (outcome === null) this.applied++;
    } catch (error) {
      this.lastOutboxRef = null; // a hub error: the node sends it again
      this.drops.drop("internal error", topic, (error as Error).message, now);
    }
  }

  /** Applies a message; returns null, PENDING (counted when the handler's promise settles), or the reason it was dropped (already counted). */
  private apply(topic: string, payload: Buffer, retained: boolean, now: number): string | typeof PENDING | null {
    const parsed = parseNodeTopic(topic);
    if (!parsed) return this.dropped("unknown topic", "unknown topics", topic.slice(0, 200), now);
    const node = this.fleet.get(parsed.node);
    if (!node) return this.dropped("unknown node", parsed.node, `not registered (${parsed.kind})`, now);
    if (this.publishBudget && !this.publishBudget.allows(node.nodeId, now)) return this.dropped("over publish budget", node.nodeId, `past ${this.publishBudget.rate.burst} at once, then ${this.publishBudget.rate.perSecond}/s`, now);
    const { kind } = parsed;
    if (!isNodeToHubKind(kind)) return this.dropped("unexpected kind", parsed.node, kind, now); // the hub's own topics
    // The broker hands a retained message to every new subscription as if it
    // were new, e.g. when the hub restarts: a retained heartbeat would make a
    // silent node look alive. Only latest-value kinds may be retained.
    if (retained && !retainAllowed(kind)) return this.dropped("retain not allowed", parsed.node, `${kind} published with the retain flag`, now);
    return this.dispatch(kind, node, payload, retained, now);
  }

  private dispatch<K extends NodeToHubKind>(kind: K, node: NodeRecord, payload: Buffer, retained: boolean, now: number): string | typeof PENDING | null {
    const message = decodeTopic(kind, payload);
    if (message.ob !== undefined) this.lastOutboxRef = { ob: message.ob, handled: null };
    if (!message.ok) return this.dropped("invalid payload", node.nodeId, `${kind}: ${message.error}`, now);
    this.lastSentAt = sentAtOf(message.value);
    const outcome = INGEST_HANDLERS[kind](this.handlerContext, node, message.value, now, retained);
    if (!(outcome instanceof Promise)) return outcome && this.dropped(outcome.reason, node.nodeId, outcome.detail, now);
    if (this.lastOutboxRef) this.lastOutboxRef.handled = outcome;
    outcome.then(
      (refusal) => (refusal ? this.dropped(refusal.reason, node.nodeId, refusal.detail, now) : this.applied++),
      (error) => this.drops.drop("internal error", node.nodeId, (error as Error).message, now),
    );
    return PENDING;
  }

  /** Counts a drop and returns its reason. */
  private dropped(reason: string, source: string, detail: string, now: number): string {
    this.drops.drop(reason, source, detail, now);
    return reason;
  }

  stats(): IngestStats {
    return { received: this.received, applied: this.applied, dropped: this.drops.total, dropped_by_reason: { ...this.drops.byReason } };
  }
}
