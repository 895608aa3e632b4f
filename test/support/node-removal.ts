// Helpers shared by the node-removal end-to-end tests.
import type { MqttClient } from "mqtt";
import { tokenHash } from "../../hub/identity/enrollment-tokens.ts";
import { openHubStore } from "../../hub/store/open-hub-store.ts";
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

/** Uses left on a token, read from the registry as the CLI would. */
export async function usesLeft(t: TestHub, token: string): Promise<number | null | undefined> {
  const store = await openHubStore({ dataDir: t.dataDir });
  try {
    return (await store.tokens.valid(tokenHash(token), Date.now()))?.usesLeft;
  } finally {
    await store.close();
  }
}
