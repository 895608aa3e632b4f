// A node for work package tests that speaks MQTT by hand: registered with
// capabilities, says its birth (with work slots) and heartbeats, collects the
// offers it gets and answers only when told, so a test can hold a lease,
// kill the node mid-job, or send a late result.
import type { MqttClient } from "mqtt";
import { nodeTopic } from "../../protocol/topics.ts";
import type { WorkOfferMessage } from "../../protocol/work-messages.ts";
import { connectNode, eventually, newNode, registerBody, type TestHub } from "./hub-harness.ts";

export interface HandWorkNode {
  nodeId: string;
  offers: WorkOfferMessage[];
  /** Registration's MQTT credentials, to connect again (to a restarted hub's broker). */
  credentials: { url: string; username: string; password: string; client_id: string };
  client: MqttClient;
  result(offer: Pick<WorkOfferMessage, "id" | "attempt">, result: Record<string, unknown>): Promise<void>;
  /** Goes silent without a word: no more heartbeats, the connection dropped. */
  kill(): Promise<void>;
  /** Connects again (to `hub`, restarted perhaps) and says its birth. */
  reconnect(hub: TestHub): Promise<void>;
}

export async function startHandWorkNode(t: TestHub, nodeId: string, capabilities: string[], slots = 2): Promise<HandWorkNode> {
  const response = await t.api("POST", "/federation/register", registerBody(newNode(nodeId), { capabilities }), t.enrollmentToken());
  if (response.status !== 201) throw new Error(`registering ${nodeId}: ${JSON.stringify(response.body)}`);
  const credentials = response.body.mqtt;
  const offers: WorkOfferMessage[] = [];
  let heartbeat: ReturnType<typeof setInterval> | null = null;
  let seq = 0;
  const node: HandWorkNode = {
    nodeId,
    offers,
    credentials,
    client: null as unknown as MqttClient,
    async result(offer, result) {
      await node.client.publishAsync(nodeTopic(nodeId, "work/result"), JSON.stringify({ id: offer.id, attempt: offer.attempt, ok: true, result, ts: Date.now() }), { qos: 1 });
    },
    async kill() {
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = null;
      node.client.end(true);
    },
    async reconnect(hub) {
      node.client = await connectNode({ ...credentials, url: hub.hub.mqttUrl });
      node.client.on("message", (_topic, payload) => offers.push(JSON.parse(payload.toString())));
      await node.client.subscribeAsync(nodeTopic(nodeId, "work/offer"), { qos: 1 });
      const birth = { node_id: nodeId, version: "0.1.0", arch: "x64", capabilities, kernel_config_hash: "sha256:601c52326843c83f", bootId: "boot-1", session: ++seq, ts: Date.now(), work_slots: slots };
      await node.client.publishAsync(nodeTopic(nodeId, "birth"), JSON.stringify(birth), { qos: 1, retain: true });
      const beat = () =>
        node.client.publish(
          nodeTopic(nodeId, "heartbeat"),
          JSON.stringify({ seq: seq++, ts: Date.now(), uptime_s: 1, load: [0, 0, 0], rss_bytes: 1, mode: "LIVE", connectivity: "online", simulated: false, outbox_depth: 0, kernel: { evaluated: 0, passed: 0, held: 0, duplicates: 0, recovered: 0 } }),
          { qos: 0 },
        );
      beat();
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = setInterval(beat, 500);
      await eventually(async () => (await hub.api("GET", `/federation/nodes/${nodeId}`)).body.health?.state === "healthy", 10_000, `${nodeId} healthy`);
    },
  };
  await node.reconnect(t);
  return node;
}
