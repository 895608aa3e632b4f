// The hub's single MQTT seam: it owns the last will (hub/state offline), the
// retained online message and the republish after every (re)connect, and
// hands every node message to ingest, acknowledging each QoS 1 message only
// once its effect is committed. Nothing else in the hub talks MQTT to nodes
// (with Mosquitto, broker/mosquitto-dynsec.ts keeps its own admin connection
// for dynamic security commands).
import mqtt, { type IClientSubscribeOptions, type IPublishPacket, type ISubscriptionMap, type MqttClient } from "mqtt";
import type { HubFeaturesMessage } from "../../protocol/receipts.ts";
import { decodeTopic, deliveryOf, everyNodeFilter, HUB_FEATURES_TOPIC, HUB_STATE_TOPIC, hubSessionMarkerTopic, hubSharedFilter, NODE_TO_HUB_KINDS, type Delivery } from "../../protocol/topics.ts";
import { brokerAddress, brokerTrust, type ClientCertificate } from "../../lib/mqtt-url.ts";
import { withTimeout } from "../../lib/with-timeout.ts";
import { OrderedAcks } from "./ordered-acks.ts";

export interface HubMqttOptions {
  url: string;
  username: string;
  password: string;
  /** This replica's client id (broker-access.ts hubClientId). */
  clientId: string;
  /**
   * Several replicas on one broker: subscribe through MQTT 5 shared
   * subscriptions, so each node message reaches one of them.
   */
  sharedSubscriptions?: boolean;
  /**
   * Handles a node message. A promise means its effect is being committed:
   * the PUBACK waits for it, so a broker keeping the hub's session redelivers
   * whatever the hub had not committed when it died.
   */
  onMessage(topic: string, payload: Buffer, retained: boolean): Promise<void> | undefined;
  /** Retained messages to (re)publish on every connect: the desired policies. */
  retainedOnConnect(): { topic: string; payload: string; delivery: Delivery }[];
  log(line: string): void;
  /** For an mqtts:// broker: the CA its certificate must chain to (PEM). */
  ca?: string;
  /** Skip the host name check (the chain is still checked): for the in-process broker, reached on loopback whatever names its certificate has. */
  loopbackBroker?: boolean;
  /** The hub's own client certificate, for a broker that requires one (EDGEFED_REQUIRE_CLIENT_CERT). */
  clientCertificate?: ClientCertificate | null;
  /**
   * Resumes a gone replica's session to empty it (hub/replicas/session-takeover.ts):
   * no will, no subscriptions or hub/state of its own, no reconnect.
   */
  takeover?: boolean;
}

/** Everything agents send (the node->hub kinds); what the hub sends it does not listen to. */
export const INGEST_FILTERS = NODE_TO_HUB_KINDS.map(everyNodeFilter);
/** Where replicas that share the traffic subscribe: the same filters in the hubs' shared group. */
export const SHARED_INGEST_FILTERS = INGEST_FILTERS.map(hubSharedFilter);
/**
 * MQTT 5 ends a session at disconnect unless told to keep it: "never
 * expires" is what clean: false meant for the hub under MQTT 3.1.1.
 */
const SESSION_NEVER_EXPIRES = 0xffff_ffff;
/** How long a clean stop waits for PUBACKs of messages whose commit is under way. */
const ACKS_AT_STOP_MS = 1000;
/**
 * How much a connection's send buffer may hold before sendIfClear() drops
 * instead (a slow link): about 16,000 single-id receipts. PUBACKs and
 * retained messages are never dropped; they just come after what is there.
 */
export const SEND_BACKLOG_BOUND_BYTES = 1024 * 1024;
/** How long ending a session waits for its marker (every message before it) and their commits. */
export const DRAIN_BOUND_MS = 30_000;

/**
 * Passed to MQTT.js's handleMessage callback to go on with the next packet
 * without sending the PUBACK itself (its QoS 1 path skips it on an error):
 * OrderedAcks sends it after the commit. Calling back only after the commit
 * would hold every later packet, heartbeats too, behind one commit per
 * message: MQTT.js 5 handles one message at a time until that callback.
 */
const PUBACK_DEFERRED = new Error("PUBACK sent by the hub after the commit");

/** MQTT.js's own packet writer (not in its typings): the path its automatic PUBACKs take. */
type PacketWriter = { _sendPacket(packet: { cmd: "puback"; messageId: number }, done: () => void): void };

export class HubMqtt {
  private readonly client: MqttClient;
  private readonly acks: OrderedAcks;
  private readonly markerTopic: string;
  private markerSeen: (() => void) | null = null;
  /** Set once this session starts saying goodbye: its own hub/state offline is not answered. */
  private leaving = false;
  connected = false;
  /** Whether the broker still had this client id's session at the last connect (null before one). */
  sessionPresent: boolean | null = null;

  constructor(private readonly options: HubMqttOptions) {
    this.markerTopic = hubSessionMarkerTopic(options.clientId);
    const takeover = options.takeover === true;
    this.client = mqtt.connect({
      ...brokerAddress(options.url),
      ...brokerTrust(options.url, options.ca, options.clientCertificate),
      ...(options.loopbackBroker ? { checkServerIdentity: () => undefined } : {}),
      clientId: options.clientId,
      ...(options.sharedSubscriptions ? { protocolVersion: 5 as const, properties: { sessionExpiryInterval: SESSION_NEVER_EXPIRES } } : {}),
      username: options.username,
      password: options.password,
      // A persistent session: the broker keeps QoS 1 verdicts and acks for the hub while it restarts.
      clean: false,
      keepalive: 60,
      reconnectPeriod: takeover ? 0 : 1000,
      connectTimeout: 10_000,
      queueQoSZero: false,
      ...(takeover ? {} : { will: { topic: HUB_STATE_TOPIC, payload: Buffer.from(hubState("offline")), ...deliveryOf("hub/state") } }),
    });
    this.acks = new OrderedAcks(
      (messageId) => this.sendPuback(messageId),
      (error) => {
        // The broker redelivers what it has no PUBACK for when the hub reconnects.
        options.log(`committing a node message failed, so it is not acknowledged; reconnecting for its redelivery: ${error.message}`);
        this.client.stream.destroy();
      },
    );
    this.client.on("connect", (connack) => {
      this.sessionPresent = connack.sessionPresent;
      if (takeover) {
        this.connected = true;
        return;
      }
      // Logged before the session set-up: a resumed session's backlog starts flowing at once.
      options.log(`connected to broker (${connack.sessionPresent ? "resumed session" : "new session"})`);
      void this.onConnect();
    });
    this.client.on("close", () => {
      if (this.connected && !takeover) options.log("broker connection lost; reconnecting");
      this.connected = false;
      this.acks.clear();
    });
    this.client.on("error", (error) => options.log(`broker: ${error.message}`));
    this.client.handleMessage = (packet, done) => this.handleMessage(packet, done);
  }

  private handleMessage(packet: IPublishPacket, done: (error?: Error) => void): void {
    if (packet.topic === this.markerTopic) {
      this.markerSeen?.();
      return done();
    }
    if (packet.topic === HUB_STATE_TOPIC) {
      this.answerHubOffline(packet.payload as Buffer);
      return done();
    }
    const committed = this.options.onMessage(packet.topic, packet.payload as Buffer, packet.retain);
    if (packet.qos !== 1 || packet.messageId === undefined) return done();
    this.acks.add(packet.messageId, committed);
    done(PUBACK_DEFERRED);
  }

  private sendPuback(messageId: number): void {
    // Only on the connection the message came on (a new one gets it again, under an id of its own).
    if (this.client.connected) (this.client as unknown as PacketWriter)._sendPacket({ cmd: "puback", messageId }, () => {});
  }

  private async onConnect(): Promise<void> {
    try {
      // Replicas also listen to hub/state: one going away says offline (its will, or its clean stop), and the live ones answer.
      // A broker refusing a filter (an ACL, no shared subscriptions) fails this: MQTT.js 5 rejects on a failure code.
      await this.client.subscribeAsync(this.options.sharedSubscriptions ? subscribeAgain([...SHARED_INGEST_FILTERS, HUB_STATE_TOPIC]) : INGEST_FILTERS, { qos: 1 });
      // Once subscribed, and before hub/state: a node adds its outbox ids (and waits for receipts) only
      // after reading this, so no node sees this hub online without knowing it receipts. Not cleared at
      // a stop: a hub that comes back takes them again; going back to a hub from before receipts is the
      // operator's act (docs/operations.md).
      await this.publish(HUB_FEATURES_TOPIC, hubFeatures(), deliveryOf("hub/features"));
      await this.publish(HUB_STATE_TOPIC, hubState("online"), deliveryOf("hub/state"));
      for (const message of this.options.retainedOnConnect()) {
        await this.publish(message.topic, message.payload, message.delivery);
      }
      this.connected = true;
    } catch (error) {
      this.options.log(`broker session setup failed: ${(error as Error).message}`);
    }
  }

  /**
   * With replicas, a hub/state offline is one replica going away (its will
   * when it died, or its clean stop): while this one lives the fleet still
   * has a hub, so it says online again at once. Only the last replica's
   * offline stays.
   */
  private answerHubOffline(payload: Buffer): void {
    const message = decodeTopic("hub/state", payload);
    if (!message.ok || message.value.state !== "offline" || this.leaving || !this.client.connected) return;
    this.publish(HUB_STATE_TOPIC, hubState("online"), deliveryOf("hub/state")).catch((error: Error) => this.options.log(`saying hub/state online again failed: ${error.message}`));
  }

  /** Resolves once the broker has the message (PUBACK for QoS 1). */
  async publish(topic: string, payload: string, options: Delivery): Promise<void> {
    await this.client.publishAsync(topic, payload, options);
  }

  /**
   * Publishes at QoS 0 and does not wait, for what costs little to lose (a
   * receipt: the node sends the event again). Returns false, queueing
   * nothing, when there is no connection or its send buffer already holds
   * SEND_BACKLOG_BOUND_BYTES: MQTT.js would buffer without bound.
   */
  sendIfClear(topic: string, payload: string): boolean {
    if (!this.client.connected || this.client.stream.writableLength > SEND_BACKLOG_BOUND_BYTES) return false;
    this.client.publish(topic, payload, { qos: 0, retain: false });
    return true;
  }

  /** Waits for the first successful session set-up (bounded). */
  async waitConnected(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.connected) {
      if (Date.now() > deadline) throw new Error(`no broker session within ${timeoutMs} ms at ${this.options.url}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Ends this session at the broker without losing what it holds: leaves
   * the shared group (the broker routes nothing more here), waits for every
   * message the session held (a marker published to itself comes after
   * them) and for their commits and PUBACKs, then disconnects with session
   * expiry 0. A replica's clean stop with shared subscriptions, and the
   * leader emptying a gone replica's session. Throws if the broker does not
   * answer in time (the session then stays, for the next try).
   */
  async drainAndEndSession(): Promise<void> {
    const deadline = Date.now() + DRAIN_BOUND_MS;
    const marker = new Promise<void>((resolve) => (this.markerSeen = resolve));
    await this.client.unsubscribeAsync(SHARED_INGEST_FILTERS);
    await this.client.subscribeAsync(this.markerTopic, { qos: 1 });
    await this.client.publishAsync(this.markerTopic, "", { qos: 1, retain: false });
    await withTimeout(marker, DRAIN_BOUND_MS, "the session's marker");
    while (this.acks.pending > 0) {
      if (Date.now() > deadline) throw new Error(`${this.acks.pending} message(s) not committed within ${DRAIN_BOUND_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await this.client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
  }

  /**
   * A replica's clean stop with shared subscriptions: its session ends with
   * nothing left in it (drainAndEndSession), so its share goes to the live
   * replicas at once. If ending fails the session stays, for the leader to
   * empty.
   */
  async leaveSharedGroup(): Promise<void> {
    this.leaving = true;
    if (this.client.connected) {
      // Said as a single hub says it; the live replicas answer online (answerHubOffline), the last one's stays.
      await withTimeout(this.publish(HUB_STATE_TOPIC, hubState("offline"), deliveryOf("hub/state")), ACKS_AT_STOP_MS, "hub/state offline").catch(() => {});
      await this.drainAndEndSession().catch((error: Error) => this.options.log(`ending the broker session failed; the leader takes over what it holds: ${error.message}`));
    }
    await this.client.endAsync(true);
  }

  /** A clean stop: hub/state offline (retained) first, since a clean disconnect suppresses the will. */
  async close(): Promise<void> {
    if (this.client.connected && !this.options.takeover) {
      const deadline = Date.now() + ACKS_AT_STOP_MS;
      while (this.acks.pending > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      await Promise.race([
        this.publish(HUB_STATE_TOPIC, hubState("offline"), deliveryOf("hub/state")),
        new Promise((resolve) => setTimeout(resolve, 1000)),
      ]).catch(() => {});
      // A clean DISCONNECT, so the broker does not publish the will on top.
      await Promise.race([this.client.endAsync(false), new Promise((resolve) => setTimeout(resolve, 2000))]).catch(() => {});
    }
    await this.client.endAsync(true);
  }
}

/**
 * A replica's filters at QoS 1, sent even when the broker resumed the
 * session: MQTT.js skips a SUBSCRIBE for filters it already lists unless
 * told to resubscribe, and Mosquitto 2.0.11 gives a session back after its
 * restart without its shared subscriptions
 * (hub/replicas/mosquitto-shared-sessions.test.ts), so replicas would get no
 * node message again (broker-restart.test.ts). Subscribing again to a filter
 * the broker kept only replaces it. A single hub's plain subscriptions come
 * back with the session: sending them again would have the broker send every
 * node's retained state and birth again too.
 */
function subscribeAgain(filters: readonly string[]): ISubscriptionMap {
  const subscriptions: Record<string, IClientSubscribeOptions> = Object.fromEntries(filters.map((filter) => [filter, { qos: 1 }]));
  // MQTT.js's type cannot say it (its index signature covers `resubscribe` too): the flag beside the filters is its API.
  return Object.assign(subscriptions, { resubscribe: true }) as ISubscriptionMap;
}

function hubState(state: "online" | "offline"): string {
  return JSON.stringify({ state, ts: Date.now() });
}

/** What this hub takes beyond v1's first version (protocol/receipts.ts). */
function hubFeatures(): string {
  const features: HubFeaturesMessage = { receipts: true, ts: Date.now() };
  return JSON.stringify(features);
}
