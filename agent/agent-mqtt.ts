// The agent's single MQTT seam. It owns the session (client id = node id,
// persistent, last will `state` offline retained), the subscriptions, the
// reconnect with jittered backoff, and the drain of the durable outbox in
// order, only while the hub says it is online. The retained `state` online
// and `birth` of each new session go first, around the outbox.
//
// Receipts (protocol/receipts.ts): while the retained `hub/features` says
// `receipts: true`, the events the hub receipts go out with their outbox id
// and stay in the outbox after the broker's PUBACK, until a receipt names
// them (awaiting-receipts.ts keeps track, and when to send them again);
// everything else, and everything while receipts are off, is forgotten at the
// PUBACK (QoS 1) or once written (QoS 0), as before receipts.
import mqtt, { type MqttClient } from "mqtt";
import type { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { MAX_PAYLOAD_BYTES, type BirthMessage, type StateMessage } from "../protocol/messages.ts";
import { OUTBOX_REF_MAX_BYTES, withOutboxRef } from "../protocol/receipts.ts";
import { decodeTopic, deliveryOf, isReceipted, nodeSubscriptions, nodeTopic, OUTBOX_KINDS, type NodeInboundKind } from "../protocol/topics.ts";
import { AwaitingReceipts, DEFAULT_RECEIPT_TIMING, type ReceiptStats, type ReceiptTiming } from "./awaiting-receipts.ts";
import type { Outbox, OutboxMessage } from "./outbox.ts";
import { backoffMs } from "../lib/backoff.ts";
import { refusedCode, subackCodes } from "../lib/suback.ts";
import { brokerAddress, brokerTrust, isTlsBrokerUrl, type ClientCertificate } from "../lib/mqtt-url.ts";

export interface AgentMqttOptions {
  nodeId: string;
  /** The hub's CA certificates (PEM), read at every connect: the broker must be mqtts:// and chain to one; "": the system store, plaintext allowed. */
  ca: () => string;
  credentials: () => { url: string; username: string; password: string } | null;
  /** The node's client certificate (mutual TLS), read at every connect; null: none yet. */
  clientCertificate?: () => ClientCertificate | null;
  outbox: Outbox;
  bootId: string;
  /** The birth for a new session (the session counter comes from the store). */
  birth: () => BirthMessage;
  onCommand(payload: Buffer): void;
  onPolicy(payload: Buffer, source: "node" | "fleet"): void;
  /** A work package leased to this node (agent/work-runner.ts). */
  onWorkOffer(payload: Buffer): void;
  /** A `hub/ca` message (a CA change signed by the hub). */
  onHubCa(payload: Buffer): void;
  /** Connected over TLS: the certificate the broker presented (to confirm an announced CA works). */
  onTlsSession?(serverCertificate: X509Certificate): void;
  onConnectivity(online: boolean): void;
  /** The broker refused our credentials (revoked, or rotated elsewhere): reconnecting stops until start() again. */
  onCredentialsRefused(): void;
  reconnectMaxMs: number;
  /** When to send again an event without a receipt, and how many may await one (default DEFAULT_RECEIPT_TIMING). */
  receiptTiming?: Partial<ReceiptTiming>;
  log(line: string): void;
}

/** Messages published back to back before waiting for their acks: fewer round trips on replay. */
export const DRAIN_BATCH = 1000;
const RECONNECT_BASE_MS = 1000;
const STABLE_SESSION_MS = 60_000;
const SHORT_SESSIONS_TO_WARN = 3;

export class AgentMqtt {
  private client: MqttClient | null = null;
  /** Rejects when the current connection closes: MQTT.js never settles a publish on a dead connection. */
  private closed: Promise<never> = new Promise(() => {});
  private brokerUp = false;
  private hubUp = false;
  private draining = false;
  private attempt = 0;
  private connectedAt: number | null = null;
  private shortSessions = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** The hub on this connection receipts events (its retained hub/features said so). */
  private receiptsOn = false;
  /** The broker refused this connection's subscription to receipts (or features): receipts stay off on it. */
  private receiptsRefused = false;
  private readonly awaiting: AwaitingReceipts;
  /** With receipts on: the last outbox id sent on this connection and mode (what is below is in flight or was forgotten). */
  private sentThrough = 0;
  /** Bumped by a new connection and by receipts switching on or off: a drain batch of an earlier one records nothing. */
  private generation = 0;
  private resendTimer: ReturnType<typeof setTimeout> | null = null;

  /** What this node reads, by topic: its hub->node kinds and the hub->fleet ones (protocol/topics.ts). */
  private readonly subscriptions: Map<string, NodeInboundKind>;
  /** One handler per kind a node reads: a kind without one does not compile. */
  private readonly handlers: Record<NodeInboundKind, (payload: Buffer) => void> = {
    cmd: (payload) => this.options.onCommand(payload),
    policy: (payload) => this.options.onPolicy(payload, "node"),
    "fleet/policy": (payload) => this.options.onPolicy(payload, "fleet"),
    "hub/state": (payload) => this.onHubState(payload),
    "work/offer": (payload) => this.options.onWorkOffer(payload),
    "hub/ca": (payload) => this.options.onHubCa(payload),
    receipts: (payload) => this.onReceipt(payload),
    "hub/features": (payload) => this.onHubFeatures(payload),
  };

  constructor(private readonly options: AgentMqttOptions) {
    // hub/features first: Mosquitto and aedes send retained messages in the
    // order of the subscription's filters (MQTT does not promise it), so the
    // features are known when the retained hub/state starts the drain, and
    // the first batch already carries `ob`; a live hub publishes its features
    // before its hub/state too (hub/mqtt/hub-mqtt.ts).
    const subscriptions = nodeSubscriptions(options.nodeId).sort((a, b) => Number(b.kind === "hub/features") - Number(a.kind === "hub/features"));
    this.subscriptions = new Map(subscriptions.map(({ topic, kind }) => [topic, kind]));
    this.awaiting = new AwaitingReceipts({ ...DEFAULT_RECEIPT_TIMING, ...options.receiptTiming });
  }

  /** Events awaiting a receipt, the oldest one's age, resends; and whether the hub receipts at all. */
  receiptStats(): ReceiptStats & { receiptsOn: boolean } {
    return { ...this.awaiting.stats(Date.now()), receiptsOn: this.receiptsOn };
  }

  /** Online means: connected to the broker and the hub says it is online. */
  get online(): boolean {
    return this.brokerUp && this.hubUp;
  }

  /** Connects; a session under way is closed first, and the reconnect takes the credentials and certificate saved now. */
  start(): void {
    this.stopped = false;
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    if (this.client) {
      this.client.end(true); // its close handler schedules the reconnect
      return;
    }
    this.connect();
  }

  private connect(): void {
    const credentials = this.options.credentials();
    if (!credentials || this.stopped) return this.scheduleReconnect();
    const { nodeId } = this.options;
    const ca = this.options.ca();
    if (ca && !isTlsBrokerUrl(credentials.url)) {
      // Pinned to a CA, this node sends its broker password over TLS only.
      this.options.log(`the hub gave a plaintext broker URL (${credentials.url}) but this node trusts only TLS to its hub (EDGEFED_HUB_CA): not connecting`);
      return this.scheduleReconnect();
    }
    const will: StateMessage = { state: "offline", bootId: this.options.bootId, ts: Date.now() };
    const client = mqtt.connect({
      ...brokerAddress(credentials.url),
      ...brokerTrust(credentials.url, ca, this.options.clientCertificate?.()),
      clientId: nodeId,
      username: credentials.username,
      password: credentials.password,
      clean: false, // the broker keeps our cmd subscription and queued commands while we are away
      keepalive: 60, // shorter keepalives have caused reconnect loops on flaky links
      reconnectPeriod: 0, // reconnects are ours, with jittered backoff
      connectTimeout: 10_000,
      queueQoSZero: false,
      will: { topic: nodeTopic(nodeId, "state"), payload: Buffer.from(JSON.stringify(will)), ...deliveryOf("state") },
    });
    this.client = client;
    this.closed = new Promise<never>((_, reject) => client.once("close", () => reject(new Error("connection closed"))));
    this.closed.catch(() => {});
    client.on("connect", () => void this.onConnect(client));
    client.on("message", (topic, payload) => this.onMessage(topic, payload));
    client.on("error", (error) => {
      this.options.log(`broker: ${error.message}`);
      // CONNACK 4 (bad user name or password) or 5 (not authorised): retrying the same password is pointless.
      const code = (error as { code?: unknown }).code;
      if (code === 4 || code === 5) {
        this.stopped = true;
        this.options.onCredentialsRefused();
      }
    });
    client.on("close", () => {
      if (this.client !== client) return;
      this.noteSessionLength();
      const wasOnline = this.online;
      this.brokerUp = false;
      this.hubUp = false;
      this.client = null;
      if (wasOnline) this.options.onConnectivity(false);
      client.removeAllListeners();
      client.end(true);
      this.scheduleReconnect();
    });
  }

  /**
   * The backoff starts over only after a session that lasted: two agents on
   * one identity (a cloned card) kick each other off within seconds, and
   * must not do so at full speed forever.
   */
  private noteSessionLength(): void {
    if (this.connectedAt === null) return;
    const lasted = Date.now() - this.connectedAt;
    this.connectedAt = null;
    if (lasted >= STABLE_SESSION_MS) {
      this.attempt = 0;
      this.shortSessions = 0;
    } else if (++this.shortSessions === SHORT_SESSIONS_TO_WARN) {
      this.options.log(
        `the broker keeps dropping this session within seconds: is another device using node id ${this.options.nodeId} (a cloned card)? Each device needs its own data dir and node id`,
      );
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = backoffMs(this.attempt++, RECONNECT_BASE_MS, this.options.reconnectMaxMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private async onConnect(client: MqttClient): Promise<void> {
    const { nodeId } = this.options;
    this.connectedAt = Date.now();
    // The hub counts as up only once this connection hears it say so: after a
    // broker crash the broker may hold no session for the hub yet, and what
    // we drained into it then would be acknowledged and lost.
    this.hubUp = false;
    // Receipts are off until this connection hears the hub's features; what was in flight goes again.
    this.receiptsOn = false;
    this.receiptsRefused = false;
    this.startOver();
    try {
      // Subscribe first: a decision sent the moment the hub sees our birth must find us listening.
      const topics = [...this.subscriptions.keys()];
      const codes = await subackCodes(client, topics);
      const refused = topics.filter((_, i) => refusedCode(codes[i] ?? 0x80));
      const needed = refused.filter((topic) => !this.isReceiptTopic(topic));
      if (needed.length) throw new Error(`the broker refused ${needed.join(", ")}`);
      if (refused.length) this.refuseReceipts(refused);
      // state and birth go first, around the outbox: they are retained (only the
      // latest matters) and the hub redelivers pending decisions when it sees a birth.
      const state: StateMessage = { state: "online", bootId: this.options.bootId, ts: Date.now() };
      await client.publishAsync(nodeTopic(nodeId, "state"), JSON.stringify(state), deliveryOf("state"));
      await client.publishAsync(nodeTopic(nodeId, "birth"), JSON.stringify(this.options.birth()), deliveryOf("birth"));
    } catch (error) {
      this.options.log(`setting up the session failed: ${(error as Error).message}`);
      client.end(true);
      return;
    }
    this.brokerUp = true;
    this.options.log("connected to broker");
    const peer = (client.stream as Partial<TLSSocket>).getPeerX509Certificate?.();
    if (peer) this.options.onTlsSession?.(peer);
    // The retained hub/state usually arrives before the set-up above is done.
    if (this.online) this.options.onConnectivity(true);
    this.kick();
  }

  private onMessage(topic: string, payload: Buffer): void {
    const kind = this.subscriptions.get(topic);
    if (kind) this.handlers[kind](payload);
  }

  /** Anything but a valid `{state: "online"}` (an empty retained message, garbage) counts as the hub being away. */
  private onHubState(payload: Buffer): void {
    const message = decodeTopic("hub/state", payload);
    const up = message.ok && message.value.state === "online";
    const wasOnline = this.online;
    this.hubUp = up;
    if (this.online !== wasOnline) this.options.onConnectivity(this.online);
    this.kick();
  }

  /** Receipts and features: what a node can do without, unlike the topics it needs to follow its hub. */
  private isReceiptTopic(topic: string): boolean {
    const kind = this.subscriptions.get(topic);
    return kind === "receipts" || kind === "hub/features";
  }

  /**
   * The broker's ACLs predate receipts (a Mosquitto node role the hub has not
   * brought up to date yet: one file rewrite per node, so a large fleet waits
   * its turn): this connection goes on without them, forgetting events at the
   * broker's acknowledgement as before, rather than failing to connect.
   */
  private refuseReceipts(refused: string[]): void {
    this.options.log(`the broker refused ${refused.join(", ")}: events are forgotten at the broker's acknowledgement on this connection`);
    this.receiptsRefused = true;
    if (!this.receiptsOn) return;
    this.receiptsOn = false;
    this.startOver();
  }

  /** `hub/features`: receipts on only for a valid message saying so; a change sends everything in flight again, in the new way. */
  private onHubFeatures(payload: Buffer): void {
    const message = decodeTopic("hub/features", payload);
    const on = message.ok && message.value.receipts === true && !this.receiptsRefused;
    if (on === this.receiptsOn) return;
    this.receiptsOn = on;
    this.options.log(on ? "the hub receipts events: each stays in the outbox until its receipt" : "the hub does not receipt events: each is forgotten at the broker's acknowledgement");
    this.startOver();
    this.kick();
  }

  /** A receipt: the hub committed these outbox ids, so the outbox forgets them. */
  private onReceipt(payload: Buffer): void {
    const message = decodeTopic("receipts", payload);
    if (!message.ok) return this.options.log(`a receipt that does not decode: ${message.error}`);
    this.options.outbox.removeRanges(message.value.ob);
    this.awaiting.receipted(message.value.ob, Date.now());
    this.kick(); // room for more in flight
  }

  /** Everything in flight is sent again from the outbox's start, by the next drain. */
  private startOver(): void {
    this.generation++;
    this.sentThrough = 0;
    this.awaiting.startOver();
    if (this.resendTimer) clearTimeout(this.resendTimer);
    this.resendTimer = null;
  }

  /** Starts draining the outbox if connected and the hub is up; safe to call any time. */
  kick(): void {
    if (!this.online) return;
    if (!this.draining) void this.drain();
    // Overdue ones wait while the hub is away (resendOverdue); this picks them up again.
    if (this.receiptsOn) this.scheduleResend();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      const { outbox } = this.options;
      while (this.online && this.client) {
        const client = this.client;
        const generation = this.generation;
        const receipts = this.receiptsOn;
        const limit = receipts ? Math.min(DRAIN_BATCH, this.awaiting.room()) : DRAIN_BATCH;
        if (limit === 0) {
          // The window is full until a receipt makes room (and kicks again). Heartbeats take no receipt
          // and are replaced by the next: they go ahead, so the hub still hears a node whose receipts stall.
          await this.sendHeartbeatsAhead(client);
          break;
        }
        // With receipts on, what is in flight stays in the outbox: the drain goes on after it.
        const batch = outbox.peek(limit, receipts ? this.sentThrough : 0);
        if (batch.length === 0) break;
        const now = Date.now();
        // Sent back to back, acknowledged in order by the broker.
        const sent = batch.map((message) => {
          const receipted = receipts && takesReceipt(message);
          // Counted in flight from the send on: a receipt may come before the PUBACK.
          if (receipted) this.awaiting.sent(message.id, now);
          return publish(client, message, receipted);
        });
        if (receipts) this.sentThrough = batch[batch.length - 1]!.id;
        for (const pending of sent) pending.catch(() => {}); // a lost connection is handled below, once
        await Promise.race([Promise.all(sent), this.closed]);
        if (!receipts) {
          outbox.removeThrough(batch[batch.length - 1]!.id);
          continue;
        }
        // The ones no receipt will name are done at the PUBACK.
        outbox.remove(batch.filter((message) => !takesReceipt(message)).map((message) => message.id));
        if (generation === this.generation) this.scheduleResend();
      }
    } catch (error) {
      this.options.log(`publishing from the outbox stopped: ${(error as Error).message}; it resumes on reconnect`);
    } finally {
      this.draining = false;
    }
  }

  /** The heartbeats queued behind what waits for room, published and forgotten (they take no receipt). */
  private async sendHeartbeatsAhead(client: MqttClient): Promise<void> {
    const heartbeats = this.options.outbox.peekHeartbeats(DRAIN_BATCH, this.sentThrough);
    if (heartbeats.length === 0) return;
    const sent = heartbeats.map((message) => publish(client, message, false));
    for (const pending of sent) pending.catch(() => {}); // a lost connection is handled by the caller's drain, once
    await Promise.race([Promise.all(sent), this.closed]);
    this.options.outbox.remove(heartbeats.map((message) => message.id));
  }

  /** Arms the timer for the next event whose receipt will be overdue. */
  private scheduleResend(): void {
    if (this.resendTimer) return;
    const next = this.awaiting.nextDueAt();
    if (next === null) return;
    this.resendTimer = setTimeout(() => {
      this.resendTimer = null;
      this.resendOverdue();
    }, Math.max(0, next - Date.now()));
  }

  /**
   * Sends again, in id order, the events whose receipt is overdue, at most
   * DRAIN_BATCH a turn (the rest are due still: the timer fires again at
   * once); a lost connection sends everything again anyway.
   */
  private resendOverdue(): void {
    const client = this.client;
    if (!client || !this.online || !this.receiptsOn) return;
    const now = Date.now();
    const due = this.awaiting.due(now).slice(0, DRAIN_BATCH);
    if (due.length > 0) this.awaiting.backOff(now);
    const queued = this.options.outbox.byIds(due);
    const stillQueued = new Set(queued.map((message) => message.id));
    // Gone from the outbox otherwise (a capped kind's oldest dropped): nothing to wait for.
    this.awaiting.forget(due.filter((id) => !stillQueued.has(id)));
    for (const message of queued) {
      this.awaiting.resent(message.id, now);
      publish(client, message, true).catch(() => {});
    }
    this.scheduleResend();
  }

  /** A clean stop: `state` offline first (a clean disconnect suppresses the will). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.resendTimer) clearTimeout(this.resendTimer);
    this.resendTimer = null;
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (this.brokerUp) {
      const state: StateMessage = { state: "offline", bootId: this.options.bootId, ts: Date.now() };
      await Promise.race([
        client.publishAsync(nodeTopic(this.options.nodeId, "state"), JSON.stringify(state), deliveryOf("state")),
        new Promise((resolve) => setTimeout(resolve, 1000)),
      ]).catch(() => {});
    }
    // A clean DISCONNECT (not a forced close), so the broker does not publish the will on top.
    await Promise.race([client.endAsync(false), new Promise((resolve) => setTimeout(resolve, 2000))]).catch(() => {});
    client.removeAllListeners();
    await client.endAsync(true);
  }
}

const KNOWN_OUTBOX_KINDS: ReadonlySet<string> = new Set(OUTBOX_KINDS);

/** Whether the hub receipts an outbox row of `kind`; a kind this version does not know (a newer agent's row) goes as before receipts. */
/**
 * Whether `message` goes with its outbox id and waits for a receipt: a kind
 * the hub receipts, and a payload that stays within the protocol's size limit
 * with the id added (the hub drops a larger payload before it can read the
 * id, so it would be sent again forever).
 */
function takesReceipt(message: OutboxMessage): boolean {
  if (!KNOWN_OUTBOX_KINDS.has(message.kind) || !isReceipted(message.kind)) return false;
  return Buffer.byteLength(message.payload) + OUTBOX_REF_MAX_BYTES <= MAX_PAYLOAD_BYTES;
}

/** Publishes an outbox message, with its outbox id when the hub will receipt it; resolves at the PUBACK (QoS 1) or once written (QoS 0). */
function publish(client: MqttClient, message: OutboxMessage, withRef: boolean): Promise<unknown> {
  const payload = withRef ? withOutboxRef(message.payload, message.id) : message.payload;
  if (message.qos === 1) return client.publishAsync(message.topic, payload, { qos: 1, retain: message.retain });
  return new Promise<void>((resolve, reject) =>
    client.publish(message.topic, payload, { qos: 0, retain: message.retain }, (error) => (error ? reject(error) : resolve())),
  );
}
