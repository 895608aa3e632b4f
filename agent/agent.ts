// One running agent: the local registry, the intent processor (kernel), the
// outbox and verdict feed, decisions, the MQTT session, heartbeats, the
// registration loop and the local intent API. main.ts and the fleet
// simulator start agents through here.
import { randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { join } from "node:path";
import type { GateConfig } from "../kernel/config.ts";
import { configHash } from "../kernel/config.ts";
import { IntentProcessor } from "../kernel/intent-processor.ts";
import { modeAt } from "../kernel/policy.ts";
import type { HeartbeatMessage } from "../protocol/messages.ts";
import { serveLocal, type LocalServer } from "./serve-local.ts";
import { AgentMqtt } from "./agent-mqtt.ts";
import { AgentStore, type NodeIdentity } from "./agent-store.ts";
import { DecisionApplier } from "./decision-applier.ts";
import { createLocalApi } from "./local-api.ts";
import { Outbox, outboxMessage } from "./outbox.ts";
import { backoffMs } from "../lib/backoff.ts";
import { registerOnce, type Advertisement } from "./registration.ts";
import { scheduleAgentJobs } from "./scheduler.ts";
import { ConnectivityLog } from "./connectivity-log.ts";
import { VerdictFeed } from "./verdict-feed.ts";

export const JOURNAL_FILE = "journal.sqlite";
const REGISTER_BASE_MS = 1000;
/** An attempt number whose backoff is the cap (EDGEFED_RECONNECT_MAX_S): the pace of asking a hub that removed this node. */
const REGISTER_SLOW_END = 30;

export interface AgentConfig {
  nodeId: string;
  dataDir: string;
  /** "" runs without a hub: simulation only. */
  hubUrl: string;
  enrollToken: string;
  advertisement: Advertisement;
  gateConfig: GateConfig;
  /** 0: as the hub says at registration. */
  heartbeatS: number;
  /** null: no local API (the fleet simulator calls the agent directly). */
  apiPort: number | null;
  outboxMax: number;
  reconnectMaxS: number;
  /** Journal compaction keeps verdicts of intents this recent. */
  journalRetentionDays: number;
  /** After this long without the hub the kernel HOLDs every entry (reason OFFLINE); 0: never. */
  offlineHoldAfterS?: number;
  log(line: string): void;
}

export class Agent {
  readonly identity: NodeIdentity;
  readonly store: AgentStore;
  readonly processor: IntentProcessor;
  readonly outbox: Outbox;
  private readonly feed: VerdictFeed;
  private readonly connectivity: ConnectivityLog;
  private readonly applier: DecisionApplier;
  private readonly mqtt: AgentMqtt;
  private readonly bootId = randomUUID();
  private readonly startedAt = Date.now();
  private heartbeatSeq = 0;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private registerTimer: ReturnType<typeof setTimeout> | null = null;
  private api: LocalServer | null = null;
  private cancelJobs: () => void = () => {};
  private offlineHoldTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** The hub refused to register this node because an operator removed it (until readmitted). */
  private removedOnHub = false;

  private constructor(private readonly config: AgentConfig) {
    this.store = AgentStore.open(config.dataDir);
    this.identity = this.store.identity(config.nodeId, Date.now());
    this.store.saveAdvertisement(config.advertisement, Date.now());
    // Offline from the start until the hub is heard, whatever the last run ended in: recorded before the
    // journal opens, as opening it judges what a crash left unjudged, and those verdicts are made offline.
    this.connectivity = new ConnectivityLog(this.store.db);
    this.connectivity.record(false, Date.now());
    // The seq floor: a journal restored behind what was already queued continues after it (see reportJournalBehind).
    this.processor = IntentProcessor.open(join(config.dataDir, JOURNAL_FILE), {
      config: config.gateConfig,
      policy: this.store.policy().policy,
      seqFloor: VerdictFeed.storedCursor(this.store.db),
    });
    this.outbox = new Outbox(this.store.db, { maxMessages: config.outboxMax, log: config.log });
    this.feed = new VerdictFeed(this.store.db, this.outbox, this.processor, config.nodeId, this.connectivity, { queue: config.hubUrl !== "" });
    this.applier = new DecisionApplier(this.store, config.nodeId, () => this.registration()?.hubPublicKey ?? null);
    this.mqtt = new AgentMqtt({
      nodeId: config.nodeId,
      credentials: () => this.registration()?.mqtt ?? null,
      outbox: this.outbox,
      bootId: this.bootId,
      birth: () => ({
        node_id: config.nodeId,
        version: config.advertisement.version,
        arch: config.advertisement.arch,
        capabilities: config.advertisement.capabilities,
        kernel_config_hash: configHash(config.gateConfig),
        bootId: this.bootId,
        session: this.store.nextSession(),
        ts: Date.now(),
      }),
      onCommand: (payload) => this.onCommand(payload),
      onPolicy: (payload, source) => {
        const policy = this.applier.adoptDesiredPolicy(payload, source, Date.now());
        if (policy) this.processor.setPolicy(policy);
      },
      onConnectivity: (online) => {
        this.connectivity.record(online, Date.now());
        config.log(online ? "online: replaying the outbox, then publishing live" : "offline: simulation mode, queuing in the outbox");
        this.armOfflineHold(online);
        if (online) this.heartbeat(); // the hub hears from us now, not a whole interval later
      },
      onCredentialsRefused: () => {
        config.log("the broker refused this node's credentials (revoked or replaced): registering again");
        this.registerLoop(0);
      },
      reconnectMaxMs: config.reconnectMaxS * 1000,
      log: config.log,
    });
  }

  static async start(config: AgentConfig): Promise<Agent> {
    const agent = new Agent(config);
    agent.reportJournalBehind();
    agent.feed.catchUp(); // verdicts journaled before a crash but never queued
    agent.startHeartbeats();
    agent.armOfflineHold(false); // until the hub is heard, the agent counts as offline
    agent.cancelJobs = scheduleAgentJobs({ recoverySweep: () => agent.recoverySweep(), compactJournal: () => agent.compactJournal(), log: config.log });
    if (config.hubUrl) {
      if (agent.registration()) agent.mqtt.start();
      else agent.registerLoop(0);
    }
    if (config.apiPort !== null) agent.api = await serveLocal(agent.localApi().fetch, config.apiPort);
    return agent;
  }

  private registration() {
    return this.config.hubUrl ? this.store.registration(this.config.hubUrl) : undefined;
  }

  get apiPort(): number | null {
    return this.api?.port ?? null;
  }

  get online(): boolean {
    return this.mqtt.online;
  }

  /**
   * For the systemd watchdog (main.ts pings only while this is true): not
   * stopped, and both SQLite files answer a read (the registry's identity row,
   * the journal's last seq), so a wedged store or a closed handle stops the
   * pings. That the caller's timer ran at all shows the event loop turns.
   * Being offline is not unhealthy: simulation mode is normal work, and a
   * restart would not bring the hub back. Throws count as unhealthy.
   */
  healthy(): boolean {
    if (this.stopped) return false;
    const row = this.store.db.prepare("SELECT node_id FROM identity WHERE singleton = 1").get<{ node_id: string }>();
    return row?.node_id === this.identity.nodeId && this.processor.lastSeq() >= 0;
  }

  /** Registers with the hub, retrying with jittered backoff; simulation mode meanwhile. */
  private registerLoop(attempt: number): void {
    if (this.stopped) return;
    if (this.registerTimer) clearTimeout(this.registerTimer);
    this.registerTimer = null;
    void registerOnce(this.config.hubUrl, this.config.enrollToken, this.identity, this.config.advertisement, Date.now()).then((result) => {
      if (this.stopped) return;
      if (result.kind === "registered") {
        if (this.removedOnHub) this.config.log("readmitted on the hub: registered again");
        this.removedOnHub = false;
        if (result.follows === "fleet" && this.store.policy().source === "node") {
          // The hub keeps no policy of this node's own (a removal forgot it, seen by this agent or
          // not): follow the fleet's again. The policy in force stays until the next retained one (fail-closed).
          this.store.savePolicy({ ...this.store.policy(), version: 0, source: "fleet" }, Date.now());
          this.config.log("the hub keeps no policy of this node's own: following the fleet policy again");
        }
        const previous = this.registration();
        this.store.saveRegistration(result.registration);
        if (previous && previous.hubPublicKey !== result.registration.hubPublicKey) {
          // Another hub (or one rebuilt from scratch): its policy versions start over.
          this.store.savePolicy({ ...this.store.policy(), version: 0 }, Date.now());
          this.config.log("the hub's key changed: pinned the new one; its policy versions start over");
        }
        this.config.log(`registered with ${this.config.hubUrl} as ${this.identity.nodeId}`);
        this.restartHeartbeats();
        this.mqtt.start();
        return;
      }
      if (result.kind === "removed") {
        // Removed by an operator: ask again only at the slow end of the backoff, so a
        // readmission takes effect without a restart; say so once, not on every try.
        if (!this.removedOnHub) {
          this.config.log(`this node was removed on the hub (${result.reason}); staying in simulation mode, asking again about every ${this.config.reconnectMaxS} s`);
        }
        this.removedOnHub = true;
        this.registerTimer = setTimeout(() => this.registerLoop(attempt + 1), backoffMs(REGISTER_SLOW_END, REGISTER_BASE_MS, this.config.reconnectMaxS * 1000));
        return;
      }
      const delay = backoffMs(attempt, REGISTER_BASE_MS, this.config.reconnectMaxS * 1000);
      this.config.log(`registration ${result.kind === "refused" ? `refused (${result.status}: ${result.reason})` : `failed (${result.reason})`}; again in ${Math.round(delay / 1000)} s`);
      this.registerTimer = setTimeout(() => this.registerLoop(attempt + 1), delay);
    });
  }

  /**
   * Fail-closed autonomy limit for operators who want one: after
   * EDGEFED_OFFLINE_HOLD_AFTER_S without the hub, every entry is held with
   * reason OFFLINE (exits still pass) until the hub is heard again.
   */
  private armOfflineHold(online: boolean): void {
    const afterS = this.config.offlineHoldAfterS ?? 0;
    if (afterS <= 0 || !this.config.hubUrl) return;
    if (this.offlineHoldTimer) clearTimeout(this.offlineHoldTimer);
    this.offlineHoldTimer = null;
    if (online) {
      if (this.processor.halt) this.config.log("hub heard again: the OFFLINE hold is lifted");
      this.processor.setHalt(null);
      return;
    }
    this.offlineHoldTimer = setTimeout(() => {
      this.processor.setHalt("OFFLINE");
      this.config.log(`offline for ${afterS} s: holding every entry (reason OFFLINE) until the hub is heard again`);
    }, afterS * 1000);
  }

  private onCommand(payload: Buffer): void {
    const outcome = this.applier.apply(payload, Date.now());
    const ack = outcome.ack ? [outboxMessage(this.identity.nodeId, "cmd/ack", outcome.ack, Date.now())] : [];
    this.outbox.enqueue(ack, outcome.record); // the decision is recorded exactly when its ack is queued
    if (outcome.policy) this.processor.setPolicy(outcome.policy);
    this.mqtt.kick();
  }

  private heartbeatMs(): number {
    return (this.config.heartbeatS || this.registration()?.heartbeatS || 15) * 1000;
  }

  private startHeartbeats(): void {
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatMs());
  }

  private restartHeartbeats(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.startHeartbeats();
  }

  private heartbeat(): void {
    if (!this.config.hubUrl) return; // simulation only: nobody to tell, and the outbox would only grow
    const counters = this.processor.counters;
    const message: HeartbeatMessage = {
      seq: this.heartbeatSeq++,
      ts: Date.now(),
      uptime_s: Math.round((Date.now() - this.startedAt) / 100) / 10,
      load: loadavg().map((l) => Math.round(l * 100) / 100) as [number, number, number],
      rss_bytes: process.memoryUsage.rss(),
      mode: modeAt(this.store.policy().policy, Date.now()),
      connectivity: this.mqtt.online ? "online" : "simulation",
      simulated: !this.mqtt.online,
      outbox_depth: this.outbox.depth(),
      kernel: { ...counters },
    };
    this.outbox.enqueue([outboxMessage(this.identity.nodeId, "heartbeat", message, message.ts)]);
    this.mqtt.kick();
  }

  /** Judges intents exactly once each, then queues their events for the hub. */
  async submit(intents: unknown[]) {
    const verdicts = await Promise.all(intents.map((intent) => this.processor.submit(intent)));
    this.feed.catchUp();
    this.mqtt.kick();
    return verdicts;
  }

  /**
   * A journal that ended before the cursor was replaced (restored from a
   * backup, or deleted). The processor continued its seqs after the cursor
   * (the seq floor), so the hub takes its new verdicts; what it cannot get
   * back is the record of intents judged after the backup: an intent id among
   * them would be judged again. Said loudly.
   */
  private reportJournalBehind(): void {
    const behind = this.processor.behind;
    if (!behind) return;
    this.config.log(
      `WARNING: ${JOURNAL_FILE} ended at seq ${behind.lastSeq} but verdicts up to ${behind.continuedAfter} were already queued for the hub: the journal was replaced or restored. ` +
        `New verdicts continue at seq ${behind.continuedAfter + 1}; intents judged in seqs ${behind.lastSeq + 1} to ${behind.continuedAfter} are no longer remembered, and would be judged again if retried.`,
    );
  }

  /** Intents stuck between receipt and verdict are judged, their events queued, the outbox retried. */
  recoverySweep(): void {
    const recovered = this.processor.evaluatePending().length;
    const queued = this.feed.catchUp();
    if (recovered || queued) this.config.log(`recovery sweep: judged ${recovered} stuck intent(s), queued ${queued} verdict event(s)`);
    this.mqtt.kick();
  }

  /** Deletes verdicts older than the retention, never one not yet queued for the hub. */
  compactJournal(): number {
    const before = Date.now() - this.config.journalRetentionDays * 86_400_000;
    const deleted = this.processor.compact(before, this.feed.cursor + 1);
    if (deleted) this.config.log(`journal compaction: deleted ${deleted} verdict(s) of intents before ${new Date(before).toISOString()}`);
    return deleted;
  }

  status(): object {
    const policy = this.store.policy();
    return {
      node_id: this.identity.nodeId,
      boot_id: this.bootId,
      registered: this.registration() !== undefined && !this.removedOnHub,
      removed_on_hub: this.removedOnHub,
      connectivity: this.mqtt.online ? "online" : "simulation",
      mode: modeAt(policy.policy, Date.now()),
      offline_hold: this.processor.halt === "OFFLINE",
      policy_version: policy.version,
      outbox: this.outbox.stats(),
      verdicts_queued_through: this.feed.cursor,
      kernel: { ...this.processor.counters },
    };
  }

  private localApi() {
    return createLocalApi({
      submit: (intents) => this.submit(intents),
      recordClose: (close) => this.processor.recordClose(close),
      status: () => this.status(),
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelJobs();
    if (this.offlineHoldTimer) clearTimeout(this.offlineHoldTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.registerTimer) clearTimeout(this.registerTimer);
    await this.api?.stop();
    await this.mqtt.stop();
    this.processor.close();
    this.store.close();
  }
}
