// A gone replica's share of the node traffic (issue 16). With shared
// subscriptions, Mosquitto (2.0.11, measured) keeps routing a round-robin
// share of node messages to a replica whose session lives on after it died:
// QoS 1 messages queue in that session (which never expires), QoS 0
// heartbeats are dropped, and the live replicas get only their own shares.
// The leader looks every TAKEOVER_EVERY_MS at the replicas on record
// (hub_replicas); one whose id lock is free runs nowhere. The leader holds
// that lock meanwhile (leadership.ts whileGone), connects with the gone
// replica's client id (MQTT 5, clean: false) to resume its session, hands
// every queued message to this hub's ingest (PUBACK after the commit, as
// for its own), leaves the shared group, and ends the session (expiry 0), so
// the broker routes all of the traffic to the live replicas. Then it takes
// the id off the record. A replica that comes back later takes its lock,
// goes on the record and subscribes again.
import { hubClientId } from "../broker/broker-access.ts";
import { HubMqtt, type HubMqttOptions } from "../mqtt/hub-mqtt.ts";
import type { AdvisoryLockLeadership } from "./leadership.ts";

/** How often the leader looks for gone replicas' sessions. */
export const TAKEOVER_EVERY_MS = 5000;
/** How long resuming a gone replica's session may take to connect. */
const CONNECT_BOUND_MS = 10_000;

export interface GoneReplicaSessionsOptions {
  leadership: AdvisoryLockLeadership;
  /** A takeover session under `clientId` whose node messages go to this hub's ingest (HubMqtt with `takeover`), counting them with `received`. */
  resume(replicaId: string, received: () => void): HubMqtt;
  log(line: string): void;
  everyMs?: number;
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

  constructor(private readonly options: GoneReplicaSessionsOptions) {
    this.timer = setInterval(() => void this.look(), options.everyMs ?? TAKEOVER_EVERY_MS);
    this.timer.unref?.();
  }

  /** Empties the session of every replica on record that runs nowhere (one look at a time; the leader only). */
  look(): Promise<void> {
    if (this.stopped || !this.options.leadership.leads()) return Promise.resolve();
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
    for (const replicaId of await leadership.otherReplicas()) {
      if (this.stopped || !leadership.leads()) return;
      await leadership.whileGone(replicaId, () => this.empty(replicaId));
    }
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
