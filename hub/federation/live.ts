// The federation engine in the running hub. Every FederationEvent the hub
// records (hub/nodes/fleet.ts) is handed here too, in order; the queue is
// run once per event-loop turn (setImmediate), so a burst of reports costs
// one pass, and heartbeats (no event) cost nothing. A timer hands the engine
// ticks with the hub's time, so holds and locks run out with no input. What
// an active role decides is issued through hub/decisions with its origin
// (role, rule, inputs, thresholds); what an advisory one would have decided
// is only recorded (recent(), GET /api/federation/roles). Alerts go to the
// hub's sink. The config comes from EDGEFED_FEDERATION_CONFIG (reloaded on
// change; a bad file keeps the one in force, logged and alerted), role modes
// also from the admin API; an operator's OVERRIDE of a role's decision
// silences that role on it (engine.noteOverride). What the engine decides,
// its conflicts, its latches and the modes set through the API are kept in
// the registry, and start() rebuilds the engine from them and the recorded
// events (rebuild.ts) before it sees anything new: a restart goes on where
// the hub stopped.
import type { Alerts } from "../alerts.ts";
import type { Decisions } from "../decisions/decisions.ts";
import type { CommittedCursor, HubStore, StoredDecision, StoreTransaction } from "../store/hub-store.ts";
import type { FederationEvent } from "../../protocol/federation-events.ts";
import { DEFAULT_FEDERATION_CONFIG, type FederationConfig, type RoleMode } from "./config.ts";
import { FederationConfigWatcher } from "./config-file.ts";
import { FederationEngine, type EngineCounters } from "./engine.ts";
import { standingModes } from "./kept-modes.ts";
import type { ConflictRecord, DecisionRecord, EngineStep, KeptDecision } from "./records.ts";
import { rebuildEngine, type KnownNode } from "./rebuild.ts";
import { ROLE_NAMES, type RoleName } from "./role.ts";

/** How many of the latest decisions (issued or advisory) and conflicts are kept for the API. */
export const KEPT_RECORDS = 500;

/** A role's decision as the hub kept it: the hub's decision id once issued, or why issuing failed. */
export type LiveDecision = KeptDecision;

export interface LiveFederationOptions {
  decisions: Decisions;
  alerts: Alerts;
  /** Where the engine's records, latches and API-set modes are kept, and the recorded events it is rebuilt from. */
  store: HubStore;
  /** The nodes of the registry with their health, as the engine is rebuilt (their health when its window starts). */
  nodes(): Iterable<KnownNode>;
  clock(): number;
  log(line: string): void;
  /** The config file; "" runs on the built-in defaults (every role advisory). */
  configFile: string;
}

export class LiveFederation {
  private readonly engine: FederationEngine;
  private readonly watcher: FederationConfigWatcher | null;
  /** The config as the file (or the defaults) says; modes set through the API go on top. */
  private fileConfig: FederationConfig;
  private readonly modesSet = new Map<RoleName, RoleMode>();
  private queue: FederationEvent[] = [];
  private scheduled: ReturnType<typeof setImmediate> | null = null;
  private tickTimer: ReturnType<typeof setInterval> | null = null;
  private tickEveryMs = 0;
  private readonly decided: LiveDecision[] = [];
  private readonly conflicts: ConflictRecord[] = [];
  private stopped = false;
  /** Removes this engine's override listener from Decisions (a replica starts a new engine on each leadership it gains). */
  private readonly stopHearingOverrides: () => void;
  /** Set once rebuilt: what comes before waits in the queue. */
  private rebuilt = false;
  private rebuiltTo: CommittedCursor = "";

  /**
   * The engine rebuilt from what the registry kept, then at work: the
   * modes set through the API that the file has not changed since, and
   * ticks. Nothing is issued or raised while it is rebuilt.
   */
  static async start(options: LiveFederationOptions): Promise<LiveFederation> {
    const live = new LiveFederation(options);
    try {
      await live.takeUpKept();
    } catch (error) {
      live.stop();
      throw error;
    }
    live.rebuilt = true;
    live.armTicks();
    if (live.queue.length) live.scheduled ??= setImmediate(() => live.runQueue());
    return live;
  }

  private constructor(private readonly options: LiveFederationOptions) {
    const { decisions, log } = options;
    // A bad file at start-up throws (FederationConfigError naming file and field): there is no config in force yet.
    this.watcher = options.configFile
      ? FederationConfigWatcher.start(options.configFile, {
          onReload: (config) => this.reloaded(config),
          onRefused: (problems) => this.refused(problems),
        })
      : null;
    this.fileConfig = this.watcher?.current ?? DEFAULT_FEDERATION_CONFIG;
    this.engine = new FederationEngine(this.fileConfig, { policyOf: (target) => decisions.policyInForce(target) });
    this.stopHearingOverrides = decisions.whenOverridden((overridden, at) => this.overridden(overridden, at));
  }

  private async takeUpKept(): Promise<void> {
    const { store, log, clock, configFile } = this.options;
    const { standing, overridden } = standingModes(this.fileConfig, await store.federationRoles.modes());
    for (const [role, mode] of standing) this.modesSet.set(role, mode);
    for (const kept of overridden) await store.write((tx) => tx.federationRoles.clearMode(kept.role)); // the file changed it since: the file's again
    this.engine.setConfig(this.effectiveConfig());
    const started = performance.now();
    const rebuilt = await rebuildEngine(this.engine, store, this.options.nodes(), clock(), (target) => this.options.decisions.policyInForce(target));
    this.rebuiltTo = rebuilt.eventsCursor;
    this.queue.unshift(...rebuilt.later);
    this.decided.push(...rebuilt.decisions.slice(0, KEPT_RECORDS).reverse());
    this.conflicts.push(...(await store.federationRoles.conflicts({ limit: KEPT_RECORDS })).reverse());
    log(`federation roles: ${this.describeModes()}${configFile ? ` (config ${configFile})` : " (built-in defaults)"}`);
    log(
      `federation engine rebuilt in ${Math.round(performance.now() - started)} ms: ${rebuilt.events} events since ${new Date(rebuilt.from).toISOString()}, ` +
        `${rebuilt.latches} latches, ${rebuilt.decisions.length} decision records`,
    );
  }

  /** Where the recorded events the engine was rebuilt from end, in committed order: a tail goes on from here. */
  get eventsRebuiltTo(): CommittedCursor {
    return this.rebuiltTo;
  }

  /**
   * Takes up the modes kept in the registry as they are now: on a shared
   * registry another replica's admin API sets them there (a mode the file
   * changed since it was set stays the file's; the one who set it is told so
   * by the file's mode in the roles it reads).
   */
  async takeUpKeptModes(): Promise<void> {
    const kept = standingModes(this.fileConfig, await this.options.store.federationRoles.modes()).standing;
    const same = kept.size === this.modesSet.size && [...kept].every(([role, mode]) => this.modesSet.get(role) === mode);
    if (same || this.stopped) return;
    this.modesSet.clear();
    for (const [role, mode] of kept) this.modesSet.set(role, mode);
    this.engine.setConfig(this.effectiveConfig());
    this.options.log(`federation roles taken up from the registry: ${this.describeModes()}`);
  }

  /** Hands one recorded event to the engine: queued, run at the end of this event-loop turn. Cheap: called on ingest. */
  readonly observe = (event: FederationEvent): void => {
    if (this.stopped) return;
    this.queue.push(event);
    if (this.rebuilt) this.scheduled ??= setImmediate(() => this.runQueue());
  };

  /** Each role's mode, enabled (active), last evaluation and last decision. */
  roles(): Record<RoleName, { mode: RoleMode; enabled: boolean; last_evaluation: number | null; last_decision: DecisionRecord | null }> {
    const status = this.engine.status();
    for (const name of ROLE_NAMES) {
      status[name].enabled = status[name].mode === "active";
      // As kept: with the hub's decision id once issued (as after a restart).
      const last = status[name].last_decision;
      if (last) status[name].last_decision = this.decided.findLast((kept) => kept.id === last.id) ?? last;
    }
    return status;
  }

  counters(): EngineCounters {
    return this.engine.counters;
  }

  /** The latest decisions (issued and advisory) and conflicts, newest first. */
  recent(limit: number): { decisions: LiveDecision[]; conflicts: ConflictRecord[] } {
    return { decisions: this.decided.slice(-limit).reverse(), conflicts: this.conflicts.slice(-limit).reverse() };
  }

  /**
   * Sets a role's mode (the admin API). It stays over reloads of the file
   * until the file itself changes that role's mode: the last to change it wins.
   */
  async setMode(role: RoleName, mode: RoleMode): Promise<void> {
    const kept = { role, mode, fileMode: this.fileConfig.roles[role].mode, setAt: this.options.clock() };
    await this.options.store.write((tx) => tx.federationRoles.setMode(kept));
    this.modesSet.set(role, mode);
    this.engine.setConfig(this.effectiveConfig());
    this.options.log(`federation role ${role} set to ${mode} through the admin API`);
  }

  stop(): void {
    this.stopped = true;
    this.stopHearingOverrides();
    this.watcher?.stop();
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.scheduled) clearImmediate(this.scheduled);
  }

  private runQueue(): void {
    this.scheduled = null;
    const events = this.queue;
    this.queue = [];
    for (const event of events) this.apply(this.engine.handle(event));
  }

  private apply(step: EngineStep): void {
    for (const alert of step.alerts) this.options.alerts.raise(alert);
    for (const conflict of step.conflicts) keep(this.conflicts, conflict);
    this.keep("the engine's decisions", async (tx) => {
      await tx.federationRoles.addDecisions(step.decisions);
      await tx.federationRoles.addConflicts(step.conflicts);
      await tx.federationRoles.moveLatches(step.latches);
    }, step.decisions.length + step.conflicts.length + step.latches.length);
    for (const record of step.decisions) {
      const kept: LiveDecision = { ...record };
      keep(this.decided, kept);
      if (record.issued) this.issue(kept);
    }
  }

  /** Writes what the engine did into the registry, in the order done; a failure is logged and alerted, the engine goes on. */
  private keep(what: string, work: (tx: StoreTransaction) => Promise<unknown>, count = 1): void {
    if (count === 0) return;
    this.options.store.write(work).catch((error: Error) => {
      this.options.log(`keeping ${what} in the registry failed: ${error.message}`);
      this.options.alerts.raise({ severity: "low", kind: "engine_unhealthy", message: `keeping ${what} in the registry failed: ${error.message}`, at: this.options.clock() });
    });
  }

  /** Issued in the order decided: Decisions issues one at a time, in call order. */
  private issue(record: LiveDecision): void {
    const { role, rule, inputs, thresholds } = record;
    this.options.decisions.issue({ type: record.type, target: record.target, payload: record.payload }, { kind: "role", role, rule, inputs, thresholds }).then(
      (issued) => {
        record.decision_id = issued.decision.id;
        this.keep("a decision's id", (tx) => tx.federationRoles.settleDecision(record.id, { decision_id: issued.decision.id }));
      },
      (error: Error) => {
        record.issue_error = error.message;
        this.keep("why a decision failed", (tx) => tx.federationRoles.settleDecision(record.id, { issue_error: error.message }));
        this.options.alerts.raise({ severity: "low", kind: "engine_unhealthy", message: `issuing ${role}'s ${record.type} to ${record.target} failed: ${error.message}`, at: this.options.clock() });
      },
    );
  }

  /** An operator overrode a decision: if a role made it, that role does not make it again for a while. */
  private overridden(overridden: StoredDecision, at: number): void {
    const origin = overridden.origin;
    if (origin.kind !== "role" || !(ROLE_NAMES as readonly string[]).includes(origin.role)) return;
    const { type, target } = overridden.message;
    const forgotten = this.engine.noteOverride({ role: origin.role as RoleName, rule: origin.rule, type, target }, at);
    this.keep("latches an OVERRIDE reset", (tx) => tx.federationRoles.moveLatches(forgotten), forgotten.length);
    this.options.log(`federation role ${origin.role} will not issue ${type} to ${target} again for ${this.engine.currentConfig.engine.override_suppression_s} s (operator OVERRIDE of ${overridden.message.id})`);
  }

  private reloaded(config: FederationConfig): void {
    // A mode the file changes is the file's again; one set through the API stays otherwise.
    for (const name of ROLE_NAMES) {
      if (config.roles[name].mode === this.fileConfig.roles[name].mode || !this.modesSet.delete(name)) continue;
      this.keep(`${name}'s mode`, (tx) => tx.federationRoles.clearMode(name));
    }
    this.fileConfig = config;
    this.engine.setConfig(this.effectiveConfig());
    this.armTicks();
    this.options.log(`federation config reloaded from ${this.options.configFile}: ${this.describeModes()}`);
  }

  private refused(problems: string[]): void {
    for (const line of problems) this.options.log(`federation config: ${line}`);
    this.options.alerts.raise({ severity: "low", kind: "engine_unhealthy", message: `federation config refused, the one in force stays: ${problems[0]}`, at: this.options.clock() });
  }

  private effectiveConfig(): FederationConfig {
    if (this.modesSet.size === 0) return this.fileConfig;
    const roles = { ...this.fileConfig.roles };
    for (const [name, mode] of this.modesSet) roles[name] = { ...roles[name], mode } as never;
    return { ...this.fileConfig, roles };
  }

  /** A tick each engine.evaluate_every_s of the hub's time. */
  private armTicks(): void {
    const everyMs = this.engine.currentConfig.engine.evaluate_every_s * 1000;
    if (everyMs === this.tickEveryMs) return;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickEveryMs = everyMs;
    this.tickTimer = setInterval(() => this.observe({ type: "tick", at: this.options.clock() }), everyMs);
    this.tickTimer.unref?.();
  }

  private describeModes(): string {
    const modes = this.engine.currentConfig.roles;
    return ROLE_NAMES.map((name) => `${name} ${modes[name].mode}`).join(", ");
  }
}

function keep<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > KEPT_RECORDS) list.shift();
}
