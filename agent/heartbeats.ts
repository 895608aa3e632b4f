// Heartbeats to the hub through the outbox: every interval (EDGEFED_HEARTBEAT_S,
// else what the hub said at registration, else 15 s) and at once on coming
// online, so the hub hears from the node then and not a whole interval later.
// Without a hub none are sent: nobody to tell, and the outbox would only grow.
import { loadavg } from "node:os";
import type { IntentProcessor } from "../kernel/intent-processor.ts";
import { modeAt } from "../kernel/policy.ts";
import type { HeartbeatMessage } from "../protocol/messages.ts";
import type { AgentPart } from "./agent-part.ts";
import type { AgentStore } from "./agent-store.ts";
import type { HubLink, LinkListener } from "./hub-link.ts";
import { outboxMessage, type Outbox } from "./outbox.ts";

const DEFAULT_INTERVAL_S = 15;

export interface HeartbeatOptions {
  nodeId: string;
  /** 0: as the hub says at registration. */
  intervalS: number;
  store: AgentStore;
  processor: IntentProcessor;
  outbox: Outbox;
  link: HubLink;
}

export class Heartbeats implements AgentPart, LinkListener {
  private readonly startedAt = Date.now();
  private seq = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly options: HeartbeatOptions) {}

  start(): void {
    if (!this.options.link.hasHub) return;
    this.timer = setInterval(() => this.beat(), this.intervalMs());
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The hub may have given another interval. */
  registered(): void {
    this.stop();
    this.start();
  }

  connectivityChanged(online: boolean): void {
    if (online) this.beat();
  }

  private intervalMs(): number {
    return (this.options.intervalS || this.options.link.registration()?.heartbeatS || DEFAULT_INTERVAL_S) * 1000;
  }

  private beat(): void {
    const { nodeId, store, processor, outbox, link } = this.options;
    const now = Date.now();
    const message: HeartbeatMessage = {
      seq: this.seq++,
      ts: now,
      uptime_s: Math.round((now - this.startedAt) / 100) / 10,
      load: loadavg().map((l) => Math.round(l * 100) / 100) as [number, number, number],
      rss_bytes: process.memoryUsage.rss(),
      mode: modeAt(store.policy().policy, now),
      connectivity: link.online ? "online" : "simulation",
      simulated: !link.online,
      outbox_depth: outbox.depth(),
      kernel: { ...processor.counters },
      ess_state: processor.essState,
    };
    outbox.enqueue([outboxMessage(nodeId, "heartbeat", message, now)]);
    link.kick();
  }
}
