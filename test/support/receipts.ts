// A node's side of receipts (protocol/receipts.ts) for tests that speak MQTT
// as a node: what the hub said it committed, as the ids each receipt named,
// and the node publishing its events with their outbox ids.
import type { MqttClient } from "mqtt";
import { withOutboxRef } from "../../protocol/receipts.ts";
import { decodeTopic, HUB_FEATURES_TOPIC, nodeTopic, type NodeToHubKind } from "../../protocol/topics.ts";
import { withTimeout } from "../../lib/with-timeout.ts";
import { eventually } from "./hub-harness.ts";

export interface ReceivedReceipts {
  /** Every id named so far, receipt after receipt (an id receipted twice is here twice). */
  ids(): number[];
  /** Waits until every one of `ids` was named. */
  waitFor(ids: number[], timeoutMs?: number): Promise<void>;
}

/** Subscribes `client` (node `nodeId`) to its receipts and gathers them; a receipt the schema refuses fails the wait. */
export async function receiptsOf(client: MqttClient, nodeId: string): Promise<ReceivedReceipts> {
  const topic = nodeTopic(nodeId, "receipts");
  const named: number[] = [];
  const problems: string[] = [];
  client.on("message", (received, payload) => {
    if (received !== topic) return;
    const receipt = decodeTopic("receipts", payload);
    if (!receipt.ok) return problems.push(receipt.error);
    for (const [first, last] of receipt.value.ob) for (let id = first; id <= last; id++) named.push(id);
  });
  const [granted] = await client.subscribeAsync(topic, { qos: 0 });
  if (granted!.qos > 2) throw new Error(`the broker refused ${nodeId} its own receipts`);
  return {
    ids: () => [...named],
    waitFor: async (ids, timeoutMs = 10_000) => {
      await eventually(() => problems.length > 0 || ids.every((id) => named.includes(id)), timeoutMs, () => `receipts naming ${ids.join(", ")} (named so far: ${named.join(", ")})`);
      if (problems.length) throw new Error(`a receipt the schema refuses: ${problems.join("; ")}`);
    },
  };
}

/** Publishes a node event of `kind` at QoS 1 (as the outbox does), with outbox id `ob` unless null. */
export async function publishEvent(client: MqttClient, nodeId: string, kind: NodeToHubKind, payload: string, ob: number | null): Promise<void> {
  await client.publishAsync(nodeTopic(nodeId, kind), ob === null ? payload : withOutboxRef(payload, ob), { qos: 1 });
}

/** The retained hub/features a client subscribing now gets. */
export async function retainedHubFeatures(client: MqttClient): Promise<unknown> {
  const features = new Promise<unknown>((resolve) => {
    client.on("message", (topic, payload, packet) => {
      if (topic === HUB_FEATURES_TOPIC && packet.retain) resolve(JSON.parse(payload.toString()));
    });
  });
  await client.subscribeAsync(HUB_FEATURES_TOPIC, { qos: 1 });
  return withTimeout(features, 5000, "the retained hub/features");
}

/** Whether the broker lets `client` subscribe to `nodeId`'s receipts (MQTT.js rejects a SUBACK failure). */
export async function mayReadReceiptsOf(client: MqttClient, nodeId: string): Promise<boolean> {
  try {
    const [granted] = await client.subscribeAsync(nodeTopic(nodeId, "receipts"), { qos: 0 });
    return granted!.qos <= 2;
  } catch (error) {
    if (/Subscribe error/.test((error as Error).message)) return false;
    throw error;
  }
}
