// One node of the load generator: the wire protocol an agent speaks, without
// an agent's cost (no SQLite, no outbox, no kernel). It registers through
// the hub's HTTP API with the real proof (agent/registration.ts), then holds
// one MQTT session with the credentials the hub returned: state online and
// birth on every connect (state offline as its will), heartbeats (QoS 0),
// verdict events (QoS 1, seq 1, 2, 3, ...) and an ack of every
// decision it receives (ok when the hub's signature verifies, else an error). Timers are the worker's
// (fleet-worker.ts): a node only says what to publish when asked.
//
// Receipts (protocol/receipts.ts) as an agent has them, in memory: while the
// retained hub/features says `receipts: true`, a verdict goes with an outbox
// id (`ob`, a counter of the node's) and counts as acknowledged only at the
// receipt naming it; one without a receipt in time is sent again (the
// worker's tick asks), and so is every one awaiting a receipt on a new
// connection. Without receipts a verdict counts at the broker's PUBACK, as
// before. Decision acks go without `ob` and count at the PUBACK.
import mqtt, { type ISubscriptionMap, type MqttClient } from "mqtt";
import type { KeyObject } from "node:crypto";
import { registerOnce, type RegistrationAttempt } from "../../agent/registration.ts";
import { brokerAddress, brokerTrust } from "../../lib/mqtt-url.ts";
import type { BirthMessage, DecisionAckMessage, HeartbeatMessage, StateMessage, VerdictEventMessage } from "../../protocol/messages.ts";
import { AwaitingReceipts, DEFAULT_RECEIPT_TIMING } from "../../agent/awaiting-receipts.ts";
import { withOutboxRef } from "../../protocol/receipts.ts";
import { verifyMessage } from "../../protocol/signing.ts";
import { decodeTopic, deliveryOf, HUB_FEATURES_TOPIC, nodeSubscriptions, nodeTopic } from "../../protocol/topics.ts";
import type { LoadNode } from "./key-cache.ts";
import type { WorkerCounters } from "./worker-counters.ts";

export interface NodeContext {
  enrollmentToken: string;
  /** The hub's CA (PEM) for https:// and mqtts://; "" for plaintext or the system store. */
  ca: string;
  /** Overrides the broker URL the hub returned ("" keeps it). */
  brokerUrl: string;
  /** No receipt this long after sending a verdict: send it again (doubling per resend, as the agent). */
  receiptTimeoutMs: number;
  bootId: string;
  counters: WorkerCounters;
  /** The hub's public key, once a registration said it (every node of a hub has the same). */
  hubKey(publicKey: string): KeyObject;
  log(line: string): void;
  /** Says `what` the first time only (a broker error thousands of nodes meet at once). */
  logOnce(what: string): void;
}

/** How a node reconnects after a drop: MQTT.js's own timer, set per node between these so a broker restart is met by a spread storm. */
const RECONNECT_MIN_MS = 1000;
const RECONNECT_SPREAD_MS = 2000;

export class LoadNodeSession {
  private client: MqttClient | null = null;
  private credentials: { url: string; username: string; password: string } | null = null;
  /** The hub's public key, from the registration: decisions are verified against it. */
  hubPublicKey = "";
  private session = 0;
  private heartbeatSeq = 0;
  /** The last verdict seq published; the hub must count each of 1..verdictSeq once. */
  verdictSeq = 0;
  /** Seqs of the verdicts not acknowledged yet, in seq order (a Set keeps insertion order). */
  private readonly unacknowledged = new Set<number>();
  /** The hub on this connection receipts verdicts (its retained hub/features said so). */
  private receiptsOn = false;
  private lastOb = 0;
  /** Verdicts sent with an outbox id and not receipted: by id, their seq and payload (to send again). */
  private readonly awaitingPayloads = new Map<number, { seq: number; payload: string }>();
  private readonly awaiting: AwaitingReceipts;
  /** Called when the last receipt awaited came (a stop waits for it). */
  private onAllReceipted: (() => void) | null = null;
  connected = false;
  /** When the next heartbeat is due (ms since the epoch); set by the worker. */
  nextHeartbeatAt = 0;
  private readonly startedAt = Date.now();
  private stopping = false;
  /** Dropped on purpose (a reconnect storm): its close is not news. */
  private dropped = false;

  constructor(
    readonly node: LoadNode,
    private readonly context: NodeContext,
    /** The hub (replica) this node registers through. */
    private readonly hubUrl: string,
  ) {
    // The worker bounds what is in flight across its nodes (fleet-worker.ts), not each node.
    this.awaiting = new AwaitingReceipts({ timeoutMs: context.receiptTimeoutMs, maxTimeoutMs: context.receiptTimeoutMs * 8, maxInFlight: Number.MAX_SAFE_INTEGER, jitter: DEFAULT_RECEIPT_TIMING.jitter });
  }

  /** The hub on this connection receipts verdicts: they go with outbox ids. */
  get receipting(): boolean {
    return this.receiptsOn;
  }

  /** The last verdict seq acknowledged with every one before it: the registry must hold 1..this. */
  get verdictsAcked(): number {
    const first = this.unacknowledged.values().next();
    return first.done ? this.verdictSeq : first.value - 1;
  }

  get registered(): boolean {
    return this.credentials !== null;
  }

  /** One registration attempt with a fresh proof (each must be newer than the last). */
  /** `lastSeqs`: the last verdict seq each hub (by public key) acknowledged from this node in an earlier run. */
  async register(lastSeqs: Record<string, Record<string, number>>): Promise<RegistrationAttempt> {
    const { enrollmentToken, ca } = this.context;
    const hubUrl = this.hubUrl;
    const advertisement = { capabilities: ["kernel", "sim", "loadgen"], arch: "x64" as const, version: "loadgen" };
    const attempt = await registerOnce(hubUrl, enrollmentToken, { nodeId: this.node.nodeId, keys: this.node.keys, createdAt: 0 }, advertisement, Date.now(), ca);
    if (attempt.kind === "registered") {
      const { mqtt: broker, hubPublicKey } = attempt.registration;
      this.credentials = { ...broker, url: this.context.brokerUrl || broker.url };
      this.hubPublicKey = hubPublicKey;
      // Seqs go on increasing over reruns against one hub, as a node's journal does over restarts.
      if (this.verdictSeq === 0) this.verdictSeq = lastSeqs[hubPublicKey]?.[this.node.nodeId] ?? 0;
    }
    return attempt;
  }

  /** Opens the MQTT session; MQTT.js reconnects it after a drop (its in-flight QoS 1 messages are sent again). */
  connect(): void {
    if (!this.credentials || this.client) return;
    const { url, username, password } = this.credentials;
    const { nodeId } = this.node;
    const will: StateMessage = { state: "offline", bootId: this.context.bootId, ts: Date.now() };
    const client = mqtt.connect({
      ...brokerAddress(url),
      ...brokerTrust(url, this.context.ca),
      clientId: nodeId,
      username,
      password,
      clean: false,
      keepalive: 60,
      reconnectPeriod: RECONNECT_MIN_MS + Math.floor(Math.random() * RECONNECT_SPREAD_MS),
      connectTimeout: 30_000,
      queueQoSZero: false,
      will: { topic: nodeTopic(nodeId, "state"), payload: Buffer.from(JSON.stringify(will)), ...deliveryOf("state") },
    });
    this.client = client;
    const { counters } = this.context;
    client.on("connect", (connack) => void this.onConnect(client, connack.sessionPresent));
    client.on("close", () => {
      if (!this.connected) return;
      if (!this.stopping && !this.dropped) this.context.logOnce("a connection closed without the load generator asking");
      this.connected = false;
      counters.connected--;
      if (!this.stopping) counters.disconnects++;
    });
    client.on("error", (error) => {
      counters.errors++;
      this.context.logOnce(`broker: ${error.message}`);
      const code = (error as { code?: unknown }).code;
      // CONNACK 4/5: these credentials are refused; retrying them is pointless.
      if (code === 4 || code === 5) {
        this.context.log(`${nodeId}: the broker refused its credentials`);
        client.end(true);
      }
    });
    client.on("message", (topic, payload) => {
      if (topic.endsWith("/cmd")) this.acknowledge(client, payload);
      else if (topic.endsWith("/receipts")) this.onReceipt(payload);
      else if (topic === HUB_FEATURES_TOPIC) this.onHubFeatures(client, payload);
    });
  }

  private async onConnect(client: MqttClient, sessionPresent: boolean): Promise<void> {
    const { nodeId } = this.node;
    const { counters } = this.context;
    // Receipts are off until this connection hears the hub's features again.
    this.receiptsOn = false;
    try {
      // A session the broker kept has its subscriptions; a new one needs them before the birth (decisions follow it).
      if (!sessionPresent) await client.subscribeAsync(nodeSubscriptions(nodeId).map((s) => s.topic), { qos: 1 });
      // hub/features again either way: only a SUBSCRIBE brings its retained message, and MQTT.js sends
      // none for a topic it subscribed before unless told to resubscribe.
      else await client.subscribeAsync({ [HUB_FEATURES_TOPIC]: { qos: 1 }, resubscribe: true } as ISubscriptionMap);
      const state: StateMessage = { state: "online", bootId: this.context.bootId, ts: Date.now() };
      await client.publishAsync(nodeTopic(nodeId, "state"), JSON.stringify(state), deliveryOf("state"));
      await client.publishAsync(nodeTopic(nodeId, "birth"), JSON.stringify(this.birth()), deliveryOf("birth"));
    } catch {
      counters.publishFailures++;
      return;
    }
    if (this.connected) return;
    this.dropped = false;
    this.connected = true;
    counters.connected++;
    counters.connects++;
  }

  private birth(): BirthMessage {
    return {
      node_id: this.node.nodeId,
      version: "loadgen",
      arch: "x64",
      capabilities: ["kernel", "sim", "loadgen"],
      kernel_config_hash: "sha256:0000000000000000",
      bootId: this.context.bootId,
      session: ++this.session,
      ts: Date.now(),
    };
  }

  heartbeat(now: number): void {
    const client = this.client;
    if (!client || !this.connected) return;
    const message: HeartbeatMessage = {
      seq: ++this.heartbeatSeq,
      ts: now,
      uptime_s: (now - this.startedAt) / 1000,
      load: [0.1, 0.1, 0.1],
      rss_bytes: 40_000_000,
      mode: "LIVE",
      connectivity: "online",
      simulated: false,
      outbox_depth: 0,
      kernel: { evaluated: this.verdictSeq, passed: this.verdictSeq, held: 0, duplicates: 0, recovered: 0 },
    };
    const { counters } = this.context;
    client.publish(nodeTopic(this.node.nodeId, "heartbeat"), JSON.stringify(message), deliveryOf("heartbeat"), (error) => {
      if (error) counters.publishFailures++;
      else counters.heartbeats++;
    });
  }

  /** Publishes the next verdict event (QoS 1); acknowledged at its receipt with receipts on, else at the broker's PUBACK. */
  verdict(now: number): void {
    const client = this.client;
    if (!client || !this.connected) return;
    const seq = ++this.verdictSeq;
    const held = seq % 3 === 0;
    const message: VerdictEventMessage = {
      seq,
      ts: now,
      simulated: false,
      symbol: "BTCUSDT",
      verdict: {
        id: `lg-${seq}`,
        verdict: held ? "HOLD" : "PASS",
        reasons: held ? ["COOLDOWN"] : [],
        enforced: true,
        mode: "LIVE",
        metrics: { notional: 100, friction_usd: 0.2, required_edge_usd: 0.6, r_ratio: 2.5 },
      },
    };
    const payload = JSON.stringify(message);
    this.context.counters.verdictsInFlight++;
    this.unacknowledged.add(seq);
    if (!this.receiptsOn) return this.publishVerdict(client, seq, payload, null, true);
    const ob = ++this.lastOb;
    this.awaitingPayloads.set(ob, { seq, payload });
    this.awaiting.sent(ob, now);
    this.context.counters.verdictsAwaitingReceipt++;
    this.publishVerdict(client, seq, payload, ob, true);
  }

  /** Sends a verdict, with its outbox id when the hub receipts; without one it is acknowledged at the PUBACK. */
  private publishVerdict(client: MqttClient, seq: number, payload: string, ob: number | null, first: boolean): void {
    const { counters } = this.context;
    if (!first) counters.verdictsResent++;
    client.publish(nodeTopic(this.node.nodeId, "verdicts"), ob === null ? payload : withOutboxRef(payload, ob), deliveryOf("verdicts"), (error) => {
      if (error) {
        counters.publishFailures++;
        // Given up (the client ended) unless a receipt is awaited: that one goes again.
        if (ob === null) this.forgetVerdict(seq);
        return;
      }
      if (first) counters.verdictsPubacked++;
      if (ob === null && this.forgetVerdict(seq)) counters.verdictsAcked++;
    });
  }

  /** Takes `seq` off what awaits an acknowledgement; false if it was not there (acknowledged already). */
  private forgetVerdict(seq: number): boolean {
    if (!this.unacknowledged.delete(seq)) return false;
    this.context.counters.verdictsInFlight--;
    return true;
  }

  /** A receipt: the verdicts it names are acknowledged. */
  private onReceipt(payload: Buffer): void {
    const receipt = decodeTopic("receipts", payload);
    if (!receipt.ok) return this.context.logOnce(`a receipt that does not decode: ${receipt.error}`);
    const { counters } = this.context;
    for (const ob of this.awaiting.receipted(receipt.value.ob, Date.now())) {
      const { seq } = this.awaitingPayloads.get(ob)!;
      this.awaitingPayloads.delete(ob);
      counters.verdictsAwaitingReceipt--;
      if (this.forgetVerdict(seq)) counters.verdictsAcked++;
    }
    if (this.awaitingPayloads.size === 0) this.onAllReceipted?.();
  }

  /**
   * hub/features on a new connection (or changed): with receipts, every
   * verdict still awaiting one goes again; without, they go without an id
   * and count at the PUBACK.
   */
  private onHubFeatures(client: MqttClient, payload: Buffer): void {
    const features = decodeTopic("hub/features", payload);
    const on = features.ok && features.value.receipts === true;
    if (on === this.receiptsOn) return;
    this.receiptsOn = on;
    const now = Date.now();
    this.awaiting.startOver();
    for (const [ob, { seq, payload: verdict }] of this.awaitingPayloads) {
      if (on) {
        this.awaiting.sent(ob, now);
        this.publishVerdict(client, seq, verdict, ob, false);
      } else {
        this.context.counters.verdictsAwaitingReceipt--;
        this.publishVerdict(client, seq, verdict, null, false);
      }
    }
    if (!on) this.awaitingPayloads.clear();
  }

  /** Sends again the verdicts whose receipt is overdue (the worker's tick calls this). */
  resendOverdue(now: number): void {
    const client = this.client;
    if (!client || !this.connected || !this.receiptsOn || this.awaitingPayloads.size === 0) return;
    const due = this.awaiting.due(now);
    if (due.length > 0) this.awaiting.backOff(now);
    for (const ob of due) {
      const { seq, payload } = this.awaitingPayloads.get(ob)!;
      this.awaiting.resent(ob, now);
      this.publishVerdict(client, seq, payload, ob, false);
    }
  }

  /** Acks a decision: ok if its signature is the hub's, else an error (a node never applies an unsigned decision). */
  private acknowledge(client: MqttClient, payload: Buffer): void {
    const { counters } = this.context;
    const decision = decodeTopic("cmd", payload);
    if (!decision.ok || !this.hubPublicKey) return void counters.badDecisions++;
    const signed = verifyMessage(decision.value, this.context.hubKey(this.hubPublicKey));
    const ack: DecisionAckMessage = { id: decision.value.id, ok: signed, appliedAt: Date.now(), ...(signed ? {} : { error: "bad signature" }) };
    if (!signed) counters.badDecisions++;
    client.publish(nodeTopic(this.node.nodeId, "cmd/ack"), JSON.stringify(ack), deliveryOf("cmd/ack"), (error) => {
      if (error) counters.publishFailures++;
      else counters.acks++;
    });
  }

  /** Drops the connection without a DISCONNECT (the broker publishes the will); MQTT.js reconnects after its period. */
  drop(): void {
    this.dropped = true;
    this.client?.stream.destroy();
  }

  /** A clean stop: state offline, then DISCONNECT (no will); bounded by `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    const client = this.client;
    this.stopping = true;
    if (!client) return;
    const bounded = (work: Promise<unknown>) => Promise.race([work.catch(() => {}), new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
    if (this.connected) {
      // The receipts of what the hub already committed are on their way: a stop waits for them (bounded).
      if (this.receiptsOn && this.awaitingPayloads.size > 0) await bounded(new Promise<void>((resolve) => (this.onAllReceipted = resolve)));
      const state: StateMessage = { state: "offline", bootId: this.context.bootId, ts: Date.now() };
      await bounded(client.publishAsync(nodeTopic(this.node.nodeId, "state"), JSON.stringify(state), deliveryOf("state")));
    }
    await bounded(client.endAsync(false));
    client.end(true);
    this.client = null;
  }
}
