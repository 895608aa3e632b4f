// MQTT ingest: every message on a node topic is parsed, validated against its
// protocol/ schema and applied to the fleet view. Whatever does not fit
// (unknown topic or node, bad or oversized payload, a birth naming another
// node) is counted and dropped; nothing a node sends can throw out of here.
import { decodeHeartbeat } from "../../protocol/heartbeat-guard.ts";
import {
  BirthMessage,
  decodePayload,
  DecisionAckMessage,
  StateMessage,
  VerdictEventMessage,
  type DecisionAckMessage as DecisionAck,
} from "../../protocol/messages.ts";
import { parseNodeTopic } from "../../protocol/topics.ts";
import type { Fleet } from "../nodes/fleet.ts";
import { DropCounter } from "./drop-counter.ts";
import { applyBirth, applyHeartbeat, applyState, applyVerdict } from "./node-messages.ts";

export interface IngestStats {
  received: number;
  applied: number;
  dropped: number;
  dropped_by_reason: Record<string, number>;
}

/** What ingest hands on beyond the fleet view. */
export interface IngestHooks {
  /** Records a decision ack; resolves once stored, with why it was refused, or null. */
  onAck(nodeId: string, ack: DecisionAck, now: number): Promise<string | null>;
  /** A node (re)connected. */
  onBirth(nodeId: string, now: number): void;
}

/** An ack is applied or dropped once the store has checked and recorded it. */
const ACK_PENDING = Symbol("ack pending");

export class Ingest {
  private received = 0;
  private applied = 0;
  private readonly drops: DropCounter;

  constructor(
    private readonly fleet: Fleet,
    private readonly hooks: IngestHooks,
    log: (line: string) => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.drops = new DropCounter(log);
  }

  handle(topic: string, payload: Buffer, retained: boolean): void {
    const now = this.clock();
    this.received++;
    try {
      const outcome = this.apply(topic, payload, retained, now);
      if (outcome === null) this.applied++;
    } catch (error) {
      this.drops.drop("internal error", topic, (error as Error).message, now);
    }
  }

  /** Applies a message; returns null, ACK_PENDING (counted when stored), or the reason it was dropped (already counted). */
  private apply(topic: string, payload: Buffer, retained: boolean, now: number): string | typeof ACK_PENDING | null {
    const parsed = parseNodeTopic(topic);
    if (!parsed) return this.dropped("unknown topic", "unknown topics", topic.slice(0, 200), now);
    const node = this.fleet.get(parsed.node);
    if (!node) return this.dropped("unknown node", parsed.node, `not registered (${parsed.kind})`, now);
    const source = parsed.node;

    switch (parsed.kind) {
      case "birth": {
        const birth = decodePayload(BirthMessage, payload);
        if (!birth.ok) return this.dropped("invalid payload", source, `birth: ${birth.error}`, now);
        if (birth.value.node_id !== parsed.node) return this.dropped("wrong node", source, `birth names node ${birth.value.node_id}`, now);
        applyBirth(node, birth.value, now);
        this.hooks.onBirth(parsed.node, now);
        break;
      }
      case "state": {
        const state = decodePayload(StateMessage, payload);
        if (!state.ok) return this.dropped("invalid payload", source, `state: ${state.error}`, now);
        applyState(node, state.value, now, retained);
        this.fleet.touched(node, now, state.value.state === "offline" ? "node said offline (last will or clean stop)" : undefined);
        return null;
      }
      case "heartbeat": {
        const heartbeat = decodeHeartbeat(payload);
        if (!heartbeat.ok) return this.dropped("invalid payload", source, `heartbeat: ${heartbeat.error}`, now);
        applyHeartbeat(node, heartbeat.value, now);
        break;
      }
      case "verdicts": {
        const event = decodePayload(VerdictEventMessage, payload);
        if (!event.ok) return this.dropped("invalid payload", source, `verdicts: ${event.error}`, now);
        applyVerdict(node, event.value, now);
        break;
      }
      case "cmd/ack": {
        const ack = decodePayload(DecisionAckMessage, payload);
        if (!ack.ok) return this.dropped("invalid payload", source, `cmd/ack: ${ack.error}`, now);
        // Checked against the audit trail where it is stored: counted once that answers.
        void this.hooks.onAck(parsed.node, ack.value, now).then(
          (problem) => {
            if (problem) {
              this.dropped("bad ack", source, problem, now);
              return;
            }
            this.applied++;
            node.live.lastSeen = now;
            this.fleet.touched(node, now);
          },
          (error) => this.drops.drop("internal error", topic, (error as Error).message, now),
        );
        return ACK_PENDING;
      }
      default:
        return this.dropped("unexpected kind", source, parsed.kind, now); // cmd and policy are the hub's own
    }
    this.fleet.touched(node, now);
    return null;
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
