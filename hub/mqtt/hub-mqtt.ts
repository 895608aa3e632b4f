// The hub's single MQTT seam: it owns the last will (hub/state offline), the
// retained online message and the republish after every (re)connect, and
// hands every node message to ingest. Nothing else in the hub talks MQTT to
// nodes (with Mosquitto, broker/mosquitto-dynsec.ts keeps its own admin
// connection for dynamic security commands).
import mqtt, { type MqttClient } from "mqtt";
import { deliveryOf, everyNodeFilter, HUB_STATE_TOPIC, NODE_TO_HUB_KINDS, type Delivery } from "../../protocol/topics.ts";
import { brokerAddress } from "../../lib/mqtt-url.ts";

export interface HubMqttOptions {
  url: string;
  username: string;
  password: string;
  onMessage(topic: string, payload: Buffer, retained: boolean): void;
  /** Retained messages to (re)publish on every connect: the desired policies. */
  retainedOnConnect(): { topic: string; payload: string; delivery: Delivery }[];
  log(line: string): void;
}

/** Everything agents send (the node->hub kinds); what the hub sends it does not listen to. */
export const INGEST_FILTERS = NODE_TO_HUB_KINDS.map(everyNodeFilter);

export class HubMqtt {
  private readonly client: MqttClient;
  connected = false;

  constructor(private readonly options: HubMqttOptions) {
    this.client = mqtt.connect({
      ...brokerAddress(options.url),
      clientId: "edgefed-hub",
      username: options.username,
      password: options.password,
      // A persistent session: the broker keeps QoS 1 verdicts and acks for the hub while it restarts.
      clean: false,
      keepalive: 60,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      queueQoSZero: false,
      will: { topic: HUB_STATE_TOPIC, payload: Buffer.from(hubState("offline")), ...deliveryOf("hub/state") },
    });
    this.client.on("connect", (connack) => {
      // Logged before the session set-up: a resumed session's backlog starts flowing at once.
      options.log(`connected to broker (${connack.sessionPresent ? "resumed session" : "new session"})`);
      void this.onConnect();
    });
    this.client.on("close", () => {
      if (this.connected) options.log("broker connection lost; reconnecting");
      this.connected = false;
    });
    this.client.on("error", (error) => options.log(`broker: ${error.message}`));
    this.client.on("message", (topic, payload, packet) => options.onMessage(topic, payload, packet.retain));
  }

  private async onConnect(): Promise<void> {
    try {
      await this.client.subscribeAsync(INGEST_FILTERS, { qos: 1 });
      await this.publish(HUB_STATE_TOPIC, hubState("online"), deliveryOf("hub/state"));
      for (const message of this.options.retainedOnConnect()) {
        await this.publish(message.topic, message.payload, message.delivery);
      }
      this.connected = true;
    } catch (error) {
      this.options.log(`broker session setup failed: ${(error as Error).message}`);
    }
  }

  /** Resolves once the broker has the message (PUBACK for QoS 1). */
  async publish(topic: string, payload: string, options: Delivery): Promise<void> {
    await this.client.publishAsync(topic, payload, options);
  }

  /** Waits for the first successful session set-up (bounded). */
  async waitConnected(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.connected) {
      if (Date.now() > deadline) throw new Error(`no broker session within ${timeoutMs} ms at ${this.options.url}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** A clean stop: hub/state offline (retained) first, since a clean disconnect suppresses the will. */
  async close(): Promise<void> {
    if (this.client.connected) {
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

function hubState(state: "online" | "offline"): string {
  return JSON.stringify({ state, ts: Date.now() });
}
