// Health transitions of a flapping node, end to end on the embedded broker:
// the registry keeps the newest TRANSITIONS_KEPT_PER_NODE of a node however
// often it flaps, and none of them once the node is removed (defect 5: 6,001
// rows from 3,000 flaps, never deleted).
import { afterAll, expect, test } from "bun:test";
import { TRANSITIONS_KEPT_PER_NODE } from "../hub/store/hub-store.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { removeTempDirs } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub } from "./support/hub-harness.ts";

afterAll(() => removeTempDirs());

const FLAPS = 1000;

test(`a node flapping ${FLAPS} times keeps its newest ${TRANSITIONS_KEPT_PER_NODE} transitions in the registry, and none once removed`, async () => {
  const t = await startTestHub();
  try {
    const node = newNode("flapper");
    const registered = await t.api("POST", "/federation/register", registerBody(node), t.enrollmentToken());
    expect(registered.status).toBe(201);
    const client = await connectNode(registered.body.mqtt);
    try {
      // online, offline, online, ...: each one a health transition (healthy <-> offline).
      for (let i = 0; i < FLAPS; i++) {
        const state = i % 2 === 0 ? "online" : "offline";
        await client.publishAsync(nodeTopic(node.nodeId, "state"), JSON.stringify({ state, bootId: "boot-1", ts: Date.now() }), { qos: 1 });
      }
    } finally {
      await client.endAsync(true);
    }
    await eventually(() => t.hub.ingest.stats().applied >= FLAPS, 10_000, "the hub to take in every flap");
    await t.hub.context.fleet.flush(); // whatever the timer has not written yet
    const stored = async () => (await t.hub.context.store.nodes.latestTransitions(10 * FLAPS)).get(node.nodeId) ?? [];
    const kept = await stored();
    expect(kept).toHaveLength(TRANSITIONS_KEPT_PER_NODE);
    expect(kept[0]).toMatchObject({ from: "healthy", to: "offline", cause: "node said offline (last will or clean stop)" }); // the last flap
    expect(kept.every((transition, i) => i === 0 || transition.at <= kept[i - 1]!.at)).toBe(true); // newest first
    expect((await t.api("GET", `/federation/nodes/${node.nodeId}`)).body.transitions).toHaveLength(20);

    expect((await t.api("DELETE", `/federation/nodes/${node.nodeId}`)).status).toBe(200);
    expect(await stored()).toEqual([]);
    // Nor does a flush after the removal bring any back.
    await t.hub.context.fleet.flush();
    expect(await stored()).toEqual([]);
  } finally {
    await t.stop();
  }
}, 60_000);
