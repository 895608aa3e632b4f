// One running agent, put together from its parts; main.ts and the fleet
// simulator start agents through here.
//
// The data path: intents come in through the local API (or submit()); the
// intent processor judges each once and journals the verdict
// (journal.sqlite); the verdict feed moves journaled verdicts, and the close
// feed the strategy's closes, into the outbox (agent.sqlite); the hub link publishes the outbox over MQTT while the hub is
// up. Back from the hub, the link hands decisions and desired policies to the
// policy follower, which puts them in force in the processor and queues the
// acks. Heartbeats, the offline hold and the scheduled jobs work beside them.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { GateConfig } from "../kernel/config.ts";
import { configHash } from "../kernel/config.ts";
import { PortfolioRefusedError, type IntentProcessor } from "../kernel/intent-processor.ts";
import { modeAt } from "../kernel/policy.ts";
import { MODES, type CloseEvent, type JournaledVerdict, type PortfolioSnapshot } from "../kernel/types.ts";
import { allowTablesOf } from "../protocol/allow-tables.ts";
import type { ReportKind } from "../protocol/reports.ts";
import { renderAgentMetrics } from "./agent-metrics.ts";
import type { AgentPart } from "./agent-part.ts";
import { AgentStore, type NodeIdentity } from "./agent-store.ts";
import { CloseFeed } from "./close-feed.ts";
import { ConnectivityLog } from "./connectivity-log.ts";
import { DecisionApplier, type ResearchRunner } from "./decision-applier.ts";
import { Heartbeats } from "./heartbeats.ts";
import { HubLink } from "./hub-link.ts";
import { openJournal } from "./journal.ts";
import { LocalApiServer } from "./local-api-server.ts";
import type { LocalApiBackend, ReportOutcome } from "./local-api.ts";
import { OfflineHold } from "./offline-hold.ts";
import { Outbox } from "./outbox.ts";
import { PolicyFollower } from "./policy-follower.ts";
import { runResearchTask } from "./research-tasks.ts";
import type { Advertisement } from "./registration.ts";
import { AgentJobs } from "./scheduler.ts";
import { ReportRefusedError, StrategyReports } from "./strategy-reports.ts";
import { VerdictFeed } from "./verdict-feed.ts";
import { RecentLog } from "./recent-log.ts";
import { WorkRunner } from "./work-runner.ts";
import type { ReceiptTiming } from "./awaiting-receipts.ts";
import type { WorkKind } from "./work-kinds.ts";

export { JOURNAL_FILE } from "./journal.ts";

export interface AgentConfig {
  nodeId: string;
  dataDir: string;
  /** "" runs without a hub: simulation only. */
  hubUrl: string;
  /** The hub's CA certificate (PEM), the only one trusted for HTTPS and MQTTS; "" or absent: the system store. */
  hubCa?: string;
  enrollToken: string;
  advertisement: Advertisement;
  gateConfig: GateConfig;
  /** 0: as the hub says at registration. */
  heartbeatS: number;
  /** The local API on 127.0.0.1 with a bearer token (0: any free port); null: not on TCP (the fleet simulator calls the agent directly). */
  apiPort: number | null;
  /** The local API on a Unix socket at this path (local-api-socket.ts); absent or null: none. */
  apiSocket?: string | null;
  /** The TCP API's bearer token file, generated when missing (default: api-token in the data dir). */
  apiTokenFile?: string;
  outboxMax: number;
  reconnectMaxS: number;
  /** Journal compaction keeps verdicts of intents this recent. */
  journalRetentionDays: number;
  /** After this long without the hub the kernel HOLDs every entry (reason OFFLINE); 0: never. */
  offlineHoldAfterS?: number;
  /** Work packages from the hub run at once (EDGEFED_WORK_SLOTS; default 2; 0: none). */
  workSlots?: number;
  /** The work kinds it runs (default WORK_KIND_TABLE; tests add their own). */
  workKinds?: Readonly<Record<string, WorkKind>>;
  /** When an event without a receipt is sent again, and how many may await one (default DEFAULT_RECEIPT_TIMING; tests shorten it). */
  receiptTiming?: Partial<ReceiptTiming>;
  log(line: string): void;
}

export class Agent implements LocalApiBackend {
  readonly store: AgentStore;
  readonly identity: NodeIdentity;
  readonly processor: IntentProcessor;
  readonly outbox: Outbox;
  private readonly reports: StrategyReports;
  private readonly bootId = randomUUID();
  private readonly feed: VerdictFeed;
  private readonly closeFeed: CloseFeed;
  private readonly link: HubLink;
  private readonly jobs: AgentJobs;
  private readonly api: LocalApiServer;
  readonly work: WorkRunner;
  /**
   * Started in this order, stopped in reverse: on the way down the API stops
   * taking intents first, then nothing more is queued for the hub, and the
   * link, last, tells the hub the node goes offline.
   */
  private readonly parts: AgentPart[];
  private stopped = false;

  private constructor(agentConfig: AgentConfig) {
    const now = Date.now();
    // Every part logs through this, so the diagnostics work kind can show the latest lines.
    const recentLog = new RecentLog(agentConfig.log);
    const config: AgentConfig = { ...agentConfig, log: recentLog.log };
    this.store = AgentStore.open(config.dataDir);
    this.identity = this.store.identity(config.nodeId, now);
    this.store.saveAdvertisement(config.advertisement, now);
    // Offline from the start until the hub is heard, whatever the last run ended in: recorded before the
    // journal opens, as opening it judges what a crash left unjudged, and those verdicts are made offline.
    const connectivity = new ConnectivityLog(this.store.db);
    connectivity.record(false, now);
    try {
      this.processor = openJournal({ ...config, policy: this.store.policy().policy, queuedThrough: VerdictFeed.storedCursor(this.store.db) });
    } catch (error) {
      this.store.close();
      throw error;
    }
    this.outbox = new Outbox(this.store.db, { maxMessages: config.outboxMax, log: config.log });
    this.feed = new VerdictFeed(this.store.db, this.outbox, this.processor, config.nodeId, connectivity, { queue: config.hubUrl !== "" });
    this.closeFeed = new CloseFeed(this.store.db, this.outbox, this.processor, config.nodeId, { queue: config.hubUrl !== "" });
    this.reports = new StrategyReports(this.store.db, this.outbox, { nodeId: config.nodeId, queue: config.hubUrl !== "" });

    const research: ResearchRunner = (payload, now) =>
      runResearchTask(payload, config.advertisement.capabilities, { journal: this.processor, gateConfig: config.gateConfig, policy: () => this.store.policy() }, now);
    const applier = new DecisionApplier(this.store, config.nodeId, () => this.store.registration(config.hubUrl)?.hubPublicKey ?? null, config.log, {
      knownModels: () => this.processor.knownModels,
      runResearch: research,
    });
    const policy = new PolicyFollower({ ...config, store: this.store, applier, processor: this.processor, outbox: this.outbox });
    const workSlots = config.workSlots ?? 2;
    this.work = new WorkRunner({
      nodeId: config.nodeId,
      db: this.store.db,
      outbox: this.outbox,
      kick: () => this.link.kick(),
      slots: workSlots,
      kinds: config.workKinds,
      node: {
        nodeId: config.nodeId,
        capabilities: config.advertisement.capabilities,
        dataDir: config.dataDir,
        journal: this.processor,
        gateConfig: config.gateConfig,
        policy: () => this.store.policy(),
        store: this.store.db,
        status: () => this.status() as Record<string, unknown>,
        recentLog: () => recentLog.lines(),
      },
      log: config.log,
    });
    this.link = new HubLink({
      ...config,
      kernelConfigHash: configHash(config.gateConfig),
      allowTables: allowTablesOf(config.gateConfig),
      bootId: this.bootId,
      identity: this.identity,
      store: this.store,
      outbox: this.outbox,
      connectivity,
      policy,
      workSlots,
      resumableKinds: this.work.resumableKinds,
      onWorkOffer: (payload) => this.work.offer(payload),
    });
    const offlineHold = new OfflineHold(this.processor, config.hubUrl ? (config.offlineHoldAfterS ?? 0) : 0, config.log);
    const heartbeats = new Heartbeats({ ...config, intervalS: config.heartbeatS, store: this.store, processor: this.processor, outbox: this.outbox, link: this.link });
    this.link.listen(offlineHold, heartbeats);
    this.jobs = new AgentJobs({ ...config, processor: this.processor, feed: this.feed, link: this.link });
    this.api = new LocalApiServer(
      this,
      { socket: config.apiSocket ?? null, port: config.apiPort, tokenFile: config.apiTokenFile ?? join(config.dataDir, "api-token") },
      config.log,
    );

    // The work runner before the link: what a restart interrupted is queued as failed before the outbox drains.
    this.parts = [this.feed, this.closeFeed, this.work, this.link, offlineHold, heartbeats, this.jobs, this.api];
  }

  static async start(config: AgentConfig): Promise<Agent> {
    const agent = new Agent(config);
    try {
      for (const part of agent.parts) await part.start();
    } catch (error) {
      await agent.stop();
      throw error;
    }
    return agent;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const part of [...this.parts].reverse()) await part.stop();
    this.processor.close();
    this.store.close();
  }

  get apiPort(): number | null {
    return this.api.boundPort;
  }

  /** The local API's Unix socket, null when it has none. */
  get apiSocket(): string | null {
    return this.api.socketPath;
  }

  /** Where the TCP API's bearer token is (read it from there, as a strategy does). */
  get apiTokenFile(): string {
    return this.api.tokenFile;
  }

  get online(): boolean {
    return this.link.online;
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

  /** Judges intents exactly once each, then queues their events for the hub. */
  async submit(intents: unknown[]): Promise<JournaledVerdict[]> {
    const verdicts = await Promise.all(intents.map((intent) => this.processor.submit(intent)));
    this.feed.catchUp();
    this.link.kick();
    return verdicts;
  }

  /** Records closes all or none in the journal, then queues them for the hub with their outcome. */
  recordCloses(closes: CloseEvent[]): void {
    this.processor.recordCloses(closes);
    if (this.closeFeed.catchUp() > 0) this.link.kick();
  }

  /**
   * Records the strategy's reports of one kind, all or none: checked, a
   * portfolio snapshot handed to the kernel, then kept and queued for the hub.
   */
  report(kind: ReportKind, inputs: unknown[]): ReportOutcome {
    const now = Date.now();
    const checked = this.reports.check(kind, inputs, now);
    if (kind === "portfolio") {
      for (const snapshot of checked.fresh as PortfolioSnapshot[]) {
        try {
          this.processor.recordPortfolio(snapshot);
        } catch (error) {
          throw error instanceof PortfolioRefusedError ? new ReportRefusedError(0, error.message) : error;
        }
      }
    }
    this.reports.record(checked, now);
    if (checked.fresh.length > 0) this.link.kick();
    return { recorded: checked.fresh.length, duplicates: checked.duplicates };
  }

  recoverySweep(): void {
    this.jobs.recoverySweep();
  }

  compactJournal(): number {
    return this.jobs.compactJournal();
  }

  status(): object {
    const policy = this.store.policy();
    return {
      node_id: this.identity.nodeId,
      boot_id: this.bootId,
      registered: this.link.registered,
      removed_on_hub: this.link.removedOnHub,
      connectivity: this.link.online ? "online" : "simulation",
      mode: modeAt(policy.policy, Date.now()),
      offline_hold: this.processor.halt === "OFFLINE",
      policy_version: policy.version,
      freeze: policy.policy.freeze,
      // The ESS state, the capital model, the positions MAX_POSITIONS counts and the risk limits in force.
      ...this.processor.accountStatus(),
      outbox: this.outbox.stats(),
      receipts: this.link.receiptStats(),
      verdicts_queued_through: this.feed.cursor,
      closes_queued_through: this.closeFeed.cursor,
      kernel: { ...this.processor.counters },
      reports: this.reports.latest(),
    };
  }

  /** GET /v1/metrics: Prometheus text (agent-metrics.ts). */
  metrics(): string {
    const policy = this.store.policy();
    const { passed, held, duplicates } = this.processor.counters;
    return renderAgentMetrics(
      {
        verdicts: { PASS: passed, HOLD: held },
        holdReasons: this.processor.holdReasons,
        duplicates,
        outboxDepth: this.outbox.stats().depth,
        receipts: this.link.receiptStats(),
        online: this.link.online,
        mode: modeAt(policy.policy, Date.now()),
        policyVersion: policy.version,
        journal: this.processor.journalSize(),
      },
      MODES,
    );
  }
}
