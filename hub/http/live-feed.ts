// What the dashboard's live stream (GET /api/stream) carries: a node's fleet
// row when it registers, is born, changes health or is removed; a decision's
// ack count on issue and on each ack; each alert as it is raised. Node and
// decision events are coalesced: each id is sent at most once per
// COALESCE_MS, with its state at that moment, so a FREEZE acknowledged by
// 10,000 nodes costs one read of the decision a second, not 10,000. Nothing
// is gathered while nobody listens.
import type { Decisions } from "../decisions/decisions.ts";
import type { HubContext } from "../hub-context.ts";
import type { StoredDecision } from "../store/hub-store.ts";
import { nodeSummary } from "./node-view.ts";

export const COALESCE_MS = 1000;

export interface LiveEvent {
  event: "node" | "decision" | "alert";
  /** JSON. */
  data: string;
}

export type LiveListener = (event: LiveEvent) => void;

export class LiveFeed {
  private readonly listeners = new Set<LiveListener>();
  private readonly nodes = new Set<string>();
  private readonly decisionIds = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly hub: HubContext,
    decisions: Decisions,
    private readonly coalesceMs = COALESCE_MS,
  ) {
    hub.fleet.onChange((nodeId) => this.pend(this.nodes, nodeId));
    decisions.onChange((decisionId) => this.pend(this.decisionIds, decisionId));
    hub.alerts.onRaise((alert) => this.send({ event: "alert", data: JSON.stringify(alert) }));
  }

  /** Hands every event from now on to `listener`; returns how to stop. */
  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  private pend(ids: Set<string>, id: string): void {
    if (this.listeners.size === 0) return;
    ids.add(id);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), this.coalesceMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async flush(): Promise<void> {
    const now = this.hub.clock();
    const nodeIds = [...this.nodes];
    const decisionIds = [...this.decisionIds];
    this.nodes.clear();
    this.decisionIds.clear();
    for (const nodeId of nodeIds) {
      const node = this.hub.fleet.get(nodeId);
      this.send({ event: "node", data: JSON.stringify(node ? nodeSummary(node, this.hub.fleet, now) : { node_id: nodeId, removed: true }) });
    }
    for (const id of decisionIds) {
      try {
        const stored = await this.hub.store.decisions.get(id);
        if (stored) this.send({ event: "decision", data: JSON.stringify(decisionProgress(stored)) });
      } catch (error) {
        this.hub.log(`live stream: reading decision ${id} failed: ${(error as Error).message}`);
      }
    }
    // What changed while the decisions were read waits its own COALESCE_MS.
    this.timer = null;
    if (this.nodes.size || this.decisionIds.size) this.schedule();
  }

  private send(event: LiveEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.listeners.clear();
  }
}

/** A decision on the live stream: what it is, whom it reached and how many acknowledged. */
export function decisionProgress(stored: StoredDecision): object {
  const acked = new Set(stored.acks.map((a) => a.nodeId));
  const { message } = stored;
  return {
    id: message.id,
    type: message.type,
    target: message.target,
    issued_at: message.issuedAt,
    acked: acked.size,
    pending: stored.targets.filter((node) => !acked.has(node)).length,
  };
}
