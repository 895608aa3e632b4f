// A gone replica's share of the node traffic (issue 16). With shared
// subscriptions, Mosquitto (2.0.11, measured) keeps routing a round-robin
// share of node messages to a replica whose session lives on after it died:
// QoS 1 messages queue in that session (which never expires), QoS 0
// heartbeats are dropped, and the live replicas get only their own shares.
// The leader looks every TAKEOVER_EVERY_MS at the replicas on record
// (hub_replicas). A free id lock says only that the replica's lock connection
// is gone, not its process: a live replica whose connection dropped takes its
// lock again within a tick or so (leadership.ts). So a replica counts as gone
// only when its lock is seen free on two looks at least CONFIRM_GONE_MS apart
// (twice the longest a live replica takes to notice and take it back), held
// on no look between. The leader holds that lock meanwhile (leadership.ts whileGone), connects with the gone
// replica's client id (MQTT 5, clean: false) to resume its session, hands
// every queued message to this hub's ingest (PUBACK after the commit, as
// for its own), leaves the shared group, and ends the session (expiry 0), so
// the broker routes all of the traffic to the live replicas. Then it takes
// the id off the record. A replica that comes back later takes its lock,
// goes on the record and subscribes again.
import { hubClientId } from "../broker/broker-access.ts";
import { DRAIN_BOUND_MS, HubMqtt, type HubMqttOptions } from "../mqtt/hub-mqtt.ts";
import { LEADERSHIP_TICK_MS, TICK_TIMEOUT_MS, type Leadership, type ReplicaLocks } from "./leadership.ts";

/** How often the leader looks for gone replicas' sessions. */
export const TAKEOVER_EVERY_MS = 5000;
/** How long resuming a gone replica's session may take to connect. */
const CONNECT_BOUND_MS = 10_000;
/** A replica's id lock seen free this long apart (and never held between) counts it as gone. */
export const CONFIRM_GONE_MS = 2 * (LEADERSHIP_TICK_MS + TICK_TIMEOUT_MS);
/**
 * How long a replica starting with an id waits for its lock: the leader may
 * hold it through a whole takeover of that id's session (connect, then drain).
 */
export const REPLICA_ID_WAIT_MS = CONNECT_BOUND_MS + DRAIN_BOUND_MS + 5000;

export interface GoneReplicaSessionsOptions {
  /** Looks only while leads(); replicaLocks: the other replicas' id locks. */
  leadership: Pick<Leadership, "leads"> & { replicaLocks: ReplicaLocks };
  /** A takeover session under `clientId` whose node messages go to this hub's ingest (HubMqtt with `takeover`), counting them with `received`. */
  resume(replicaId: string, received: () => void): HubMqtt;
  log(line: string): void;
  everyMs?: number;
  confirmGoneMs?: number;
}

/** Resumes a gone replica's session with this hub's broker options and ingest. */
export function takeoverSession(own: HubMqttOptions): GoneReplicaSessionsOptions["resume"] {
  return (replicaId, received) =>
    new HubMqtt({
      ...own,
      clientId: hubClientId("ingest", replicaId),
      takeover: true,
      onMessage(topic, payload, retained) {
        received();
        return own.onMessage(topic, payload, retained);
      },
    });
}

export class GoneReplicaSessions {
  private readonly timer: ReturnType<typeof setInterval>;
  private looking: Promise<void> | null = null;
  private stopped = false;
  /** When each replica's id lock was first seen free, on the looks since (forgotten once seen held). */
  private readonly seenFreeSince = new Map<string, number>();

  constructor(private readonly options: GoneReplicaSessionsOptions) {
    this.timer = setInterval(() => void this.look(), options.everyMs ?? TAKEOVER_EVERY_MS);
    this.timer.unref?.();
  }

  /** Empties the session of every replica on record that runs nowhere (one look at a time; the leader only). */
  look(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (!this.options.leadership.leads()) {
      this.seenFreeSince.clear(); // a leader again later looks afresh
      return Promise.resolve();
    }
    this.looking ??= this.emptyGone()
      .catch((error: Error) => this.options.log(`taking over a gone replica's broker session failed (tried again later): ${error.message}`))
      .finally(() => (this.looking = null));
    return this.looking;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.looking;
  }

  private async emptyGone(): Promise<void> {
    const { leadership } = this.options;
    const locks = leadership.replicaLocks;
    const onRecord = await locks.otherReplicas();
    for (const replicaId of this.seenFreeSince.keys()) if (!onRecord.includes(replicaId)) this.seenFreeSince.delete(replicaId);
    for (const replicaId of onRecord) {
      if (this.stopped || !leadership.leads()) return;
      if (!(await this.seenGone(locks, replicaId))) continue;
      this.seenFreeSince.delete(replicaId);
      await locks.whileGone(replicaId, () => this.empty(replicaId));
    }
  }

  /** Whether `replicaId`'s lock is free now and was on a look at least CONFIRM_GONE_MS ago, held on none between. */
  private async seenGone(locks: ReplicaLocks, replicaId: string): Promise<boolean> {
    const now = Date.now();
    if (!(await locks.idFree(replicaId))) {
      this.seenFreeSince.delete(replicaId);
      return false;
    }
    const since = this.seenFreeSince.get(replicaId);
    if (since === undefined) this.seenFreeSince.set(replicaId, now);
    return since !== undefined && now - since >= (this.options.confirmGoneMs ?? CONFIRM_GONE_MS);
  }

  private async empty(replicaId: string): Promise<void> {
    let taken = 0;
    const session = this.options.resume(replicaId, () => taken++);
    try {
      await session.waitConnected(CONNECT_BOUND_MS);
      const present = session.sessionPresent;
      await session.drainAndEndSession();
      if (present) this.options.log(`replica ${replicaId} is gone: took over its broker session (${taken} queued message(s) applied here) and ended it, so its share of the traffic goes to the live replicas`);
    } finally {
      await session.close();
    }
  }
}
