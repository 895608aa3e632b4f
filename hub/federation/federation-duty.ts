// The federation engine as a duty a hub may run or not. On SQLite the one
// hub runs it, fed in-process with what it observes (observe()). On a shared
// registry (PostgreSQL, several replicas) only one replica may run it, or
// each would decide for the fleet from its share of the traffic: start()
// rebuilds the engine from the registry (LiveFederation.start), then feeds it
// every replica's recorded events from a tail of the registry
// (event-tail.ts), from where the rebuild ended, and takes up the role modes
// other replicas' admin APIs set; stop() stops both, and the replica that
// runs it next rebuilds from the registry again. Which replica runs it is
// kept in the registry (runningOn) for the others to say.
//
// followLeadership() ties it to the replica's leadership: started on gaining
// it (tried again with backoff while this replica still leads, so a leader
// never runs without roles because one start failed), stopped on losing it.
// close() ends that for good (hub stop): a flip during the stop starts nothing.
import { backoffMs } from "../../lib/backoff.ts";
import type { Leadership } from "../replicas/leadership.ts";
import type { HubStore, NodeFederationEvent } from "../store/hub-store.ts";
import { FederationEventTail, type EventTailCounters } from "./event-tail.ts";
import { LiveFederation, type LiveFederationOptions } from "./live.ts";

/** The hub value naming the replica whose engine last started. */
export const ENGINE_REPLICA_KEY = "federation_engine_replica";
/** How often the running engine reads the role modes kept in the registry (set through any replica). */
const MODES_EVERY_MS = 1000;
/** A failed start on gaining leadership is tried again after this, doubling up to START_RETRY_MAX_MS. */
const START_RETRY_BASE_MS = 500;
const START_RETRY_MAX_MS = 30_000;

export interface FederationDutyOptions extends LiveFederationOptions {
  /** This replica's name (EDGEFED_HUB_ID). */
  hubId: string;
}

export class FederationDuty {
  private live: LiveFederation | null = null;
  private tail: FederationEventTail | null = null;
  private modesTimer: ReturnType<typeof setInterval> | null = null;
  /** start() and stop() take turns. */
  private turn: Promise<void> = Promise.resolve();
  /** Set by close(): nothing starts again. */
  private closed = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly options: FederationDutyOptions) {}

  /** The engine, while this hub runs it. */
  get running(): LiveFederation | null {
    return this.live;
  }

  /** What the tail read, while this hub runs the engine on a shared registry. */
  get tailCounters(): EventTailCounters | null {
    return this.tail?.counters ?? null;
  }

  /** An event this hub observed: to the engine, when it runs here and is not fed by the tail. */
  readonly observe = (event: NodeFederationEvent): void => {
    if (!this.tail) this.live?.observe(event);
  };

  /** Runs the engine while `leadership` says this replica leads (from now on: started here if it leads already). */
  followLeadership(leadership: Leadership): void {
    const { log } = this.options;
    leadership.onChange((leading) => {
      if (this.closed) return;
      if (leading) this.startWhileLeading(leadership, 0);
      else this.stop().catch((error: Error) => log(`stopping the federation engine failed: ${error.message}`));
    });
    if (leadership.leads()) this.startWhileLeading(leadership, 0);
  }

  /** Stops the engine for good: no start after this (hub stop). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.stop();
  }

  start(): Promise<void> {
    return this.inTurn(async () => {
      if (this.live || this.closed) return;
      const { store, hubId, log } = this.options;
      const live = await LiveFederation.start(this.options);
      this.live = live;
      if (!store.shared) return;
      this.tail = new FederationEventTail({ store, after: live.eventsRebuiltTo, deliver: (events) => events.forEach(live.observe), log });
      this.modesTimer = setInterval(() => live.takeUpKeptModes().catch((error: Error) => log(`reading the federation role modes failed: ${error.message}`)), MODES_EVERY_MS);
      this.modesTimer.unref?.();
      await store.write((tx) => tx.hubValues.put(ENGINE_REPLICA_KEY, hubId));
      log(`federation engine runs on this replica (${hubId}), fed from the registry's events`);
    });
  }

  stop(): Promise<void> {
    return this.inTurn(async () => {
      if (this.modesTimer) clearInterval(this.modesTimer);
      this.modesTimer = null;
      const tail = this.tail;
      this.tail = null;
      this.live?.stop();
      this.live = null;
      await tail?.stop();
    });
  }

  /** start(), tried again with backoff while this replica leads and the engine does not run. */
  private startWhileLeading(leadership: Leadership, attempt: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.closed || !leadership.leads()) return;
    this.start().catch((error: Error) => {
      if (this.closed || !leadership.leads()) return;
      const waitMs = backoffMs(attempt, START_RETRY_BASE_MS, START_RETRY_MAX_MS);
      this.options.log(`starting the federation engine failed (tried again in ${Math.round(waitMs)} ms while this replica leads): ${error.message}`);
      this.retryTimer = setTimeout(() => this.startWhileLeading(leadership, attempt + 1), waitMs);
      this.retryTimer.unref?.();
    });
  }

  private inTurn(work: () => Promise<void>): Promise<void> {
    const next = this.turn.then(work);
    this.turn = next.catch(() => {});
    return next;
  }
}

/** The replica whose federation engine started last (on a shared registry), if any did. */
export async function engineReplica(store: HubStore): Promise<string | null> {
  return (await store.hubValues.get(ENGINE_REPLICA_KEY)) ?? null;
}
