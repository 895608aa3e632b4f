// Every metric the hub exports on GET /metrics (Prometheus text format,
// prom-client), named here and nowhere else: examples/ (scrape config, alert
// rules, Grafana dashboard) use only these names, and a test checks them
// against a real scrape.
//
// Two kinds. Counters and histograms of things that happen (a registration,
// a decision issued, an HTTP request, a registry commit) are moved where
// they happen, through the methods below. Everything that is a state (nodes
// by health and mode, ingest's totals, outstanding decisions, the fleet
// policy in force, the roles) is read from its owner at scrape time by a
// `collect` callback, so the hot ingest path pays nothing for it.
//
// Each hub has a Registry of its own (not prom-client's global one): tests
// and several hubs in one process do not collide. No label names a node
// unless EDGEFED_METRICS_PER_NODE asks for it (a series per node).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { CAPITAL_PROFILES, MODES } from "../../kernel/types.ts";
import { modeAt, type KernelPolicy } from "../../kernel/policy.ts";
import type { DecisionOrigin } from "../decisions/decision-origin.ts";
import type { IngestStats } from "../ingest/ingest.ts";
import { HEALTH_STATES, type NodeRecord } from "../nodes/node-model.ts";
import type { OutstandingDecisions } from "../store/hub-store.ts";

/** How far back an expired decision nobody acknowledged still counts in edgefed_decisions_expired_unacked. */
export const EXPIRED_DECISIONS_WINDOW_MS = 24 * 3_600_000;

/** The label value of who made a decision: "operator", or the role's name. */
export function originLabel(origin: DecisionOrigin): string {
  return origin.kind === "role" ? origin.role : "operator";
}

/** What the scrape reads from the running hub; hub.ts hands it over once everything is built. */
export interface HubMetricSources {
  nodes(): Iterable<NodeRecord>;
  ingestStats(): IngestStats;
  /** The fleet's desired policy in force (the default when none was decided). */
  fleetPolicy(): KernelPolicy;
  outstandingDecisions(now: number, expiredSince: number): Promise<OutstandingDecisions[]>;
  /** Decisions made by each role, by type, since the hub started. */
  roleDecisions(): Record<string, Record<string, number>>;
  roleConflicts(): number;
  /** Each role's mode (active, advisory, off). */
  roleModes(): Record<string, string>;
  /** Clients connected to the embedded broker; null with an external broker (ask it). */
  mqttClients(): number | null;
  /** Work packages by state (hub/work/work-model.ts). */
  workPackages(): Promise<Record<string, number>>;
  /** The duties only one replica runs, and whether this one does (hub/replicas/leadership.ts). */
  leaderDuties(): { all: readonly string[]; led: readonly string[] };
  /** Since when the federation event tail's horizon has been held (hub/federation/event-tail.ts); null when it is not, or no tail runs here. */
  federationTailStalledSince(): number | null;
  clock(): number;
}

/**
 * The rate limits' labels: register, login (per source address), admin (per
 * token), mqtt_publish (embedded broker: the node is disconnected), mqtt_ingest
 * (external broker: the message is dropped).
 */
export const RATE_LIMITS = ["register", "login", "admin", "mqtt_publish", "mqtt_ingest"] as const;

const SECONDS = 1000;
const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600];
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const ROLE_MODES = ["active", "advisory", "off"] as const;
const RUNS_ON_BUN = "Bun" in globalThis;
const V8_HEAP_SPACE_METRICS = ["nodejs_heap_space_size_total_bytes", "nodejs_heap_space_size_used_bytes", "nodejs_heap_space_size_available_bytes"];

export class HubMetrics {
  readonly registry = new Registry();
  private sources: HubMetricSources | null = null;

  private readonly registrations = new Counter({
    name: "edgefed_registrations_total",
    help: "Registrations answered: outcome accepted (reason new or re-registration) or refused (reason the API's error)",
    labelNames: ["outcome", "reason"] as const,
    registers: [this.registry],
  });

  private readonly ingestLag = new Histogram({
    name: "edgefed_ingest_lag_seconds",
    help: "From a node's message time (ts, or an ack's appliedAt) to the registry commit that holds it, for the events committed before their PUBACK",
    labelNames: ["kind"] as const,
    buckets: LAG_BUCKETS,
    registers: [this.registry],
  });

  private readonly decisionsIssued = new Counter({
    name: "edgefed_decisions_issued_total",
    help: "Decisions issued, by type and origin (operator or the role's name)",
    labelNames: ["type", "origin"] as const,
    registers: [this.registry],
  });

  private readonly decisionAcks = new Counter({
    name: "edgefed_decision_acks_total",
    help: "First acknowledgements of a decision by a node, by type, origin and result (ok or error)",
    labelNames: ["type", "origin", "result"] as const,
    registers: [this.registry],
  });

  private readonly alerts = new Counter({
    name: "edgefed_alerts_total",
    help: "Alerts raised (GET /api/federation/alerts), by kind and severity",
    labelNames: ["kind", "severity"] as const,
    registers: [this.registry],
  });

  private readonly httpRequests = new Histogram({
    name: "edgefed_http_request_duration_seconds",
    help: "HTTP requests by method, route pattern (never the raw path) and status, with their duration",
    labelNames: ["method", "route", "status"] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });

  private readonly rateLimitHits = new Counter({
    name: "edgefed_rate_limited_total",
    help: "Requests and MQTT messages refused by a rate limit (hub/http/rate-limit.ts, hub/broker/publish-budget.ts), by limit",
    labelNames: ["limit"] as const,
    registers: [this.registry],
  });

  private readonly commits = new Histogram({
    name: "edgefed_registry_commit_seconds",
    help: "Registry writes (HubStore.write) from call to commit, grouped commits included",
    buckets: COMMIT_BUCKETS,
    registers: [this.registry],
  });

  private readonly receiptsSent = new Counter({
    name: "edgefed_hub_receipts_sent_total",
    help: "Outbox ids of node events named in receipts this hub sent (one per event receipted, redeliveries included; hub/mqtt/receipts.ts)",
    registers: [this.registry],
  });

  private readonly receiptsUnsent = new Counter({
    name: "edgefed_hub_receipts_unsent_total",
    help: "Outbox ids whose receipt was dropped (no broker connection, or its send buffer over the bound): those nodes send the events again",
    registers: [this.registry],
  });

  constructor(options: { perNode: boolean; hubId: string }) {
    collectDefaultMetrics({ register: this.registry });
    // Which replica answers the scrape (EDGEFED_HUB_ID): an info series, always 1, for joins and dashboards.
    new Gauge({ name: "edgefed_hub_info", help: "This hub replica (EDGEFED_HUB_ID); always 1", labelNames: ["hub_id"] as const, registers: [this.registry] }).set({ hub_id: options.hubId }, 1);
    // Under Bun these ask for V8's heap spaces, which JavaScriptCore does not have: Bun's stand-in
    // answers with made-up spaces and took 25 of the 27 ms a scrape cost at 10,000 nodes.
    if (RUNS_ON_BUN) for (const name of V8_HEAP_SPACE_METRICS) this.registry.removeSingleMetric(name);
    // Each limit's series from the start (at 0): a rate() over a series that appears only when first hit misses that hit.
    for (const limit of RATE_LIMITS) this.rateLimitHits.inc({ limit }, 0);
    this.scrapeTimeGauges();
    if (options.perNode) this.perNodeGauges();
  }

  /** Where the scrape-time metrics come from; until set they report nothing. */
  readFrom(sources: HubMetricSources): void {
    this.sources = sources;
  }

  /** The whole exposition, Prometheus text format. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  registrationAccepted(created: boolean): void {
    this.registrations.inc({ outcome: "accepted", reason: created ? "new" : "re-registration" });
  }

  registrationRefused(reason: string): void {
    this.registrations.inc({ outcome: "refused", reason });
  }

  /** An event committed `now`, sent by the node at `sentAt` (its clock: a node ahead of the hub counts as 0). */
  ingestCommitted(kind: string, sentAt: number, now: number): void {
    this.ingestLag.observe({ kind }, Math.max(0, now - sentAt) / SECONDS);
  }

  decisionIssued(type: string, origin: DecisionOrigin): void {
    this.decisionsIssued.inc({ type, origin: originLabel(origin) });
  }

  decisionAcked(type: string, origin: DecisionOrigin, ok: boolean): void {
    this.decisionAcks.inc({ type, origin: originLabel(origin), result: ok ? "ok" : "error" });
  }

  alertRaised(kind: string, severity: string): void {
    this.alerts.inc({ kind, severity });
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.observe({ method, route, status: String(status) }, seconds);
  }

  /** A request or message refused by `limit` (one of RATE_LIMITS). */
  rateLimited(limit: string): void {
    this.rateLimitHits.inc({ limit });
  }

  /** Outbox ids named in receipts sent, and those whose receipt was dropped. */
  receipts(sentIds: number, unsentIds: number): void {
    if (sentIds > 0) this.receiptsSent.inc(sentIds);
    if (unsentIds > 0) this.receiptsUnsent.inc(unsentIds);
  }

  registryCommit(seconds: number): void {
    this.commits.observe(seconds);
  }

  /**
   * Gauges (and counters kept by their owners) read at scrape time.
   * prom-client collects every metric at once (Promise.all) in registration
   * order, each running its `collect` first: where one read fills several
   * metrics, the first registered does it and the others are read after.
   */
  private scrapeTimeGauges(): void {
    const registers = [this.registry];
    const read = (fill: (sources: HubMetricSources) => void | Promise<void>) =>
      async () => {
        if (this.sources) await fill(this.sources);
      };

    const leader: Gauge<"duty"> = new Gauge({
      name: "edgefed_replica_leader",
      help: "1 for each duty only one hub replica runs at a time that this replica runs now (the advisory-lock leader), else 0",
      labelNames: ["duty"] as const,
      registers,
      collect: read(({ leaderDuties }) => {
        const { all, led } = leaderDuties();
        for (const duty of all) leader.set({ duty }, led.includes(duty) ? 1 : 0);
      }),
    });

    const tailStalled: Gauge = new Gauge({
      name: "edgefed_federation_tail_stalled_seconds",
      help: "Seconds the federation event tail's horizon has been held by a transaction still open on the PostgreSQL server (the engine gets no new events meanwhile); 0 when it moves or no tail runs here",
      registers,
      collect: read(({ federationTailStalledSince, clock }) => {
        const since = federationTailStalledSince();
        tailStalled.set(since === null ? 0 : (clock() - since) / SECONDS);
      }),
    });

    // One pass over the fleet fills both (at 10,000 nodes the scrape's biggest cost).
    const byHealth: Gauge<"health"> = new Gauge({
      name: "edgefed_nodes",
      help: "Registered nodes by health",
      labelNames: ["health"] as const,
      registers,
      collect: read(({ nodes }) => {
        const health: Record<string, number> = Object.fromEntries(HEALTH_STATES.map((state) => [state, 0]));
        const modes: Record<string, number> = Object.fromEntries([...MODES, "unknown"].map((mode) => [mode, 0]));
        for (const node of nodes()) {
          health[node.health]!++;
          const mode = node.live.mode ?? "unknown";
          modes[mode] = (modes[mode] ?? 0) + 1;
        }
        for (const [state, count] of Object.entries(health)) byHealth.set({ health: state }, count);
        for (const [mode, count] of Object.entries(modes)) byMode.set({ mode }, count);
      }),
    });
    const byMode = new Gauge({ name: "edgefed_nodes_by_mode", help: "Registered nodes by the mode their last heartbeat reported (unknown: none yet)", labelNames: ["mode"] as const, registers });

    const received: Counter = new Counter({
      name: "edgefed_ingest_received_total",
      help: "MQTT messages on node topics the hub received",
      registers,
      collect: read(({ ingestStats }) => {
        const stats = ingestStats();
        setCounter(received, {}, stats.received);
        setCounter(applied, {}, stats.applied);
        dropped.reset();
        for (const [reason, count] of Object.entries(stats.dropped_by_reason)) dropped.inc({ reason }, count);
      }),
    });
    const applied = new Counter({ name: "edgefed_ingest_applied_total", help: "Node messages applied to the fleet view", registers });
    const dropped = new Counter({ name: "edgefed_ingest_dropped_total", help: "Node messages dropped, by reason (hub/ingest/drop-counter.ts)", labelNames: ["reason"] as const, registers });

    // The store read is async: pending's collect starts it, the two after it wait for the same read.
    let outstandingRead: Promise<void> = Promise.resolve();
    const fillOutstanding = read(async ({ outstandingDecisions, clock }) => {
      const now = clock();
      const rows = await outstandingDecisions(now, now - EXPIRED_DECISIONS_WINDOW_MS);
      pending.reset();
      expired.reset();
      let oldest = now;
      for (const row of rows) {
        (row.expired ? expired : pending).set({ type: row.type, origin: row.origin }, row.count);
        if (!row.expired) oldest = Math.min(oldest, row.oldestIssuedAt);
      }
      oldestPending.set((now - oldest) / SECONDS);
    });
    const pending: Gauge<"type" | "origin"> = new Gauge({
      name: "edgefed_decisions_pending",
      help: "Unexpired decisions some target has not acknowledged, by type and origin",
      labelNames: ["type", "origin"] as const,
      registers,
      collect: () => (outstandingRead = fillOutstanding()),
    });
    const expired = new Gauge({
      name: "edgefed_decisions_expired_unacked",
      help: "Decisions that expired in the last 24 h with a target that never acknowledged, by type and origin",
      labelNames: ["type", "origin"] as const,
      registers,
      collect: () => outstandingRead,
    });
    const oldestPending = new Gauge({
      name: "edgefed_decision_oldest_pending_age_seconds",
      help: "Age of the oldest unexpired decision some target has not acknowledged (0: none)",
      registers,
      collect: () => outstandingRead,
    });

    const policyMode: Gauge<"mode"> = new Gauge({
      name: "edgefed_fleet_policy_mode",
      help: "The fleet policy's mode in force now (a freeze, a mode window, else its base mode): 1 for the mode, 0 for the others",
      labelNames: ["mode"] as const,
      registers,
      collect: read(({ fleetPolicy, clock }) => {
        const policy = fleetPolicy();
        const mode = modeAt(policy, clock());
        for (const each of MODES) policyMode.set({ mode: each }, each === mode ? 1 : 0);
        const profile = policy.capital?.profile ?? "none";
        for (const each of [...CAPITAL_PROFILES, "none"]) capitalProfile.set({ profile: each }, each === profile ? 1 : 0);
        frozen.set(mode === "FREEZE" ? 1 : 0);
      }),
    });
    const capitalProfile = new Gauge({
      name: "edgefed_fleet_policy_capital_profile",
      help: "The fleet policy's capital profile: 1 for the profile in force, 0 for the others (none: no capital limits)",
      labelNames: ["profile"] as const,
      registers,
    });
    const frozen = new Gauge({ name: "edgefed_fleet_frozen", help: "1 while the fleet policy is frozen (a FREEZE in force)", registers });

    const roleDecisions: Counter<"role" | "type"> = new Counter({
      name: "edgefed_role_decisions_total",
      help: "Decisions the federation roles made (issued or advisory), by role and type, since the hub started",
      labelNames: ["role", "type"] as const,
      registers,
      collect: read(({ roleDecisions: made, roleConflicts: conflicts, roleModes }) => {
        roleDecisions.reset();
        for (const [role, byType] of Object.entries(made())) for (const [type, count] of Object.entries(byType)) roleDecisions.inc({ role, type }, count);
        setCounter(roleConflicts, {}, conflicts());
        for (const [role, mode] of Object.entries(roleModes())) for (const each of ROLE_MODES) roleMode.set({ role, mode: each }, each === mode ? 1 : 0);
      }),
    });
    const roleConflicts = new Counter({ name: "edgefed_role_conflicts_total", help: "Conflicts between federation roles, since the hub started", registers });
    const roleMode = new Gauge({ name: "edgefed_role_mode", help: "Each federation role's mode: 1 for the mode it is in, 0 for the others", labelNames: ["role", "mode"] as const, registers });

    const workPackages: Gauge<"state"> = new Gauge({
      name: "edgefed_work_packages",
      help: "Work packages by state (queued, leased, running, succeeded, failed, expired, cancelled)",
      labelNames: ["state"] as const,
      registers,
      collect: read(async ({ workPackages: byState }) => {
        for (const [state, count] of Object.entries(await byState())) workPackages.set({ state }, count);
      }),
    });

    const mqttClients: Gauge = new Gauge({
      name: "edgefed_mqtt_connected_clients",
      help: "Clients connected to the embedded broker (nodes, the hub's own, watchers); absent with an external broker",
      registers,
      collect: read(({ mqttClients: connected }) => {
        const count = connected();
        if (count === null) mqttClients.reset();
        else mqttClients.set(count);
      }),
    });
  }

  /** EDGEFED_METRICS_PER_NODE: a series per node, for small fleets. */
  private perNodeGauges(): void {
    const registers = [this.registry];
    const health: Gauge<"node" | "health"> = new Gauge({
      name: "edgefed_node_health",
      help: "Per node (opt-in): 1 for its health, 0 for the other states",
      labelNames: ["node", "health"] as const,
      registers,
      collect: () => {
        // Reset first: a removed node's series must go.
        health.reset();
        heartbeatAge.reset();
        outboxDepth.reset();
        if (!this.sources) return;
        const now = this.sources.clock();
        for (const node of this.sources.nodes()) {
          for (const state of HEALTH_STATES) health.set({ node: node.nodeId, health: state }, state === node.health ? 1 : 0);
          if (node.live.lastHeartbeatAt !== null) heartbeatAge.set({ node: node.nodeId }, (now - node.live.lastHeartbeatAt) / SECONDS);
          if (node.live.outboxDepth !== null) outboxDepth.set({ node: node.nodeId }, node.live.outboxDepth);
        }
      },
    });
    const heartbeatAge = new Gauge({ name: "edgefed_node_last_heartbeat_age_seconds", help: "Per node (opt-in): seconds since its last heartbeat (absent: none yet)", labelNames: ["node"] as const, registers });
    const outboxDepth = new Gauge({ name: "edgefed_node_outbox_depth", help: "Per node (opt-in): outbox depth its last heartbeat reported", labelNames: ["node"] as const, registers });
  }
}

/** A counter its owner keeps (ingest's totals): set to the owner's value at scrape time. */
function setCounter<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string>>, value: number): void {
  counter.reset();
  counter.inc(labels, value);
}
