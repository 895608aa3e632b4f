// What the hub's services share. Built once by hub.ts; tests build it the same way.
import type { Alerts } from "./alerts.ts";
import type { BrokerAccess } from "./broker/broker-access.ts";
import type { Fleet } from "./nodes/fleet.ts";
import type { HubIdentity } from "./identity/hub-identity.ts";
import type { KeyedLock } from "../lib/keyed-lock.ts";
import type { HubMetrics } from "./metrics/hub-metrics.ts";
import type { Leadership } from "./replicas/leadership.ts";
import type { HubSettings } from "./settings.ts";
import type { HubStore } from "./store/hub-store.ts";
import type { ClientCertificateIssuer } from "./tls/client-certificates.ts";
import type { ChangeFeed } from "./replicas/change-feed.ts";

export interface HubContext {
  settings: HubSettings;
  store: HubStore;
  fleet: Fleet;
  identity: HubIdentity;
  broker: BrokerAccess;
  /** Where what needs an operator's eye is raised (GET /api/federation/alerts). */
  alerts: Alerts;
  /** What GET /metrics exports: things that happen are counted through it. */
  metrics: HubMetrics;
  /** Where writes tell the other hub replicas what they changed, and reads wait to have heard them (a shared registry); null on SQLite. */
  changeFeed: ChangeFeed | null;
  /** Whether this replica runs the work only one replica may do (the health sweep, work scheduling, the webhook, ...). */
  leadership: Leadership;
  /** Serialises registration and removal per node id. */
  nodeLocks: KeyedLock;
  /** The broker URL nodes get when EDGEFED_PUBLIC_MQTT_URL is not set, given the host they called the hub by. */
  brokerUrlFor(requestHost: string | undefined): string;
  /** Publishes through the hub's MQTT session; rejects if the broker does not take it in time. */
  publish(topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }): Promise<void>;
  /** Whether the hub's MQTT session is up. */
  brokerConnected(): boolean;
  clock(): number;
  log(line: string): void;
  startedAt: number;
  /** Issues nodes' client certificates (mutual TLS); null when the hub has no CA of its own (TLS off, or an operator's certificate). */
  clientCertificates: ClientCertificateIssuer | null;
}
