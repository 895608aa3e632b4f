// Helpers shared by the node-removal end-to-end tests.
import type { MqttClient } from "mqtt";
import { openRegistry } from "../../hub/store/registry.ts";
import type { TestHub } from "./hub-harness.ts";

/** A node's birth payload, as its agent would publish it. */
export const birth = (nodeId: string) =>
  JSON.stringify({ node_id: nodeId, version: "0.1.0", arch: "arm64", capabilities: ["kernel", "sim"], kernel_config_hash: "sha256:601c52326843c83f", bootId: "boot-1", session: 1, ts: Date.now() });

/** Every message the client receives from now on. */
export function collect(client: MqttClient): { topic: string; payload: string }[] {
  const seen: { topic: string; payload: string }[] = [];
  client.on("message", (topic, payload) => seen.push({ topic, payload: payload.toString() }));
  return seen;
}

/** Uses left on a token, read from the registry file as the CLI would. */
export function usesLeft(t: TestHub, token: string): number | null | undefined {
  const registry = openRegistry(t.dataDir);
  try {
    return registry.tokens.valid(token, Date.now())?.usesLeft;
  } finally {
    registry.close();
  }
}
