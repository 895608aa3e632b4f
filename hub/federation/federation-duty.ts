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
import type { HubStore, NodeFederationEvent } from "../store/hub-store.ts";
import { FederationEventTail, type EventTailCounters } from "./event-tail.ts";
import { LiveFederation, type LiveFederationOptions } from "./live.ts";

/** The hub value naming the replica whose engine last started. */
export const ENGINE_REPLICA_KEY = "federation_engine_replica";
/** How often the running engine reads the role modes kept in the registry (set through any replica). */
const MODES_EVERY_MS = 1000;

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

  start(): Promise<void> {
    return this.inTurn(async () => {
      if (this.live) return;
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
