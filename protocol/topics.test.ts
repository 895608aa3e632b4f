import { describe, expect, test } from "bun:test";
import {
  FLEET_KINDS,
  FLEET_POLICY_TOPIC,
  HUB_STATE_TOPIC,
  HUB_TO_NODE_KINDS,
  NODE_TO_HUB_KINDS,
  NODE_TOPIC_KINDS,
  OUTBOX_KINDS,
  TOPICS,
  decodeTopic,
  deliveryOf,
  everyNodeFilter,
  isNodeId,
  nodePublishTopics,
  nodeSubscriptions,
  nodeSubtree,
  nodeTopic,
  parseNodeTopic,
  retainAllowed,
} from "./topics.ts";

describe("topics", () => {
  test("node topics are built and parsed back for every kind", () => {
    for (const kind of NODE_TOPIC_KINDS) {
      const topic = nodeTopic("pi-01", kind);
      expect(topic).toBe(`edgefed/v1/nodes/pi-01/${kind}`);
      expect(parseNodeTopic(topic)).toEqual({ node: "pi-01", kind });
    }
    expect(nodeSubtree("pi-01")).toBe("edgefed/v1/nodes/pi-01/#");
    expect(everyNodeFilter("heartbeat")).toBe("edgefed/v1/nodes/+/heartbeat");
    expect([HUB_STATE_TOPIC, FLEET_POLICY_TOPIC]).toEqual(["edgefed/v1/hub/state", "edgefed/v1/fleet/policy"]);
  });

  test("node ids follow [a-z0-9][a-z0-9-]{0,62}", () => {
    for (const good of ["a", "0", "pi-01", "a".repeat(63), "node-with-dashes-"]) expect(isNodeId(good)).toBe(true);
    for (const bad of ["", "-pi", "Pi-01", "pi_01", "pi.01", "a".repeat(64), "pi/01", "+", "#", 7, null]) {
      expect(isNodeId(bad)).toBe(false);
    }
    expect(() => nodeTopic("Pi-01", "state")).toThrow(/not a node id/);
    expect(() => nodeSubtree("+")).toThrow(/not a node id/);
  });

  test("anything that is not a node topic parses to null", () => {
    for (const topic of [
      "edgefed/v1/nodes/pi-01",
      "edgefed/v1/nodes//state",
      "edgefed/v1/nodes/PI/state",
      "edgefed/v1/nodes/pi-01/state/extra",
      "edgefed/v1/nodes/pi-01/unknown",
      "edgefed/v1/nodes/pi-01/hub/state",
      "edgefed/v2/nodes/pi-01/state",
      "edgefed/v1/hub/state",
      "other/edgefed/v1/nodes/pi-01/state",
    ]) {
      expect(parseNodeTopic(topic)).toBeNull();
    }
  });

  test("the table is DESIGN.md's protocol table: who sends what, QoS, retain, and what goes through the agent's outbox", () => {
    const rows = Object.fromEntries(
      Object.entries(TOPICS).map(([kind, spec]) => {
        const cap = "outboxCap" in spec ? ` (newest ${spec.outboxCap})` : "";
        const outbox = "viaOutbox" in spec && spec.viaOutbox ? `, outbox${cap}` : "";
        return [kind, `${spec.direction}, QoS ${spec.delivery.qos}${spec.delivery.retain ? ", retained" : ""}${outbox}`];
      }),
    );
    expect(rows).toEqual({
      state: "node->hub, QoS 1, retained",
      birth: "node->hub, QoS 1, retained",
      heartbeat: "node->hub, QoS 0, outbox",
      verdicts: "node->hub, QoS 1, outbox",
      "cmd/ack": "node->hub, QoS 1, outbox",
      closes: "node->hub, QoS 1, outbox",
      portfolio: "node->hub, QoS 1, outbox (newest 1000)",
      health: "node->hub, QoS 1, outbox (newest 1000)",
      models: "node->hub, QoS 1, outbox",
      "work/progress": "node->hub, QoS 1, outbox",
      "work/result": "node->hub, QoS 1, outbox",
      receipts: "hub->node, QoS 0",
      cmd: "hub->node, QoS 1",
      "work/offer": "hub->node, QoS 1",
      policy: "hub->node, QoS 1, retained",
      "fleet/policy": "hub->fleet, QoS 1, retained",
      "hub/state": "hub->fleet, QoS 1, retained",
      "hub/ca": "hub->fleet, QoS 1, retained",
      "hub/features": "hub->fleet, QoS 1, retained",
    });
  });

  test("derived lists: kinds by direction, the outbox kinds, what a node may retain", () => {
    expect([...NODE_TO_HUB_KINDS, ...HUB_TO_NODE_KINDS, ...FLEET_KINDS].sort()).toEqual(Object.keys(TOPICS).sort() as (keyof typeof TOPICS)[]);
    for (const kind of NODE_TO_HUB_KINDS) expect(TOPICS[kind].direction).toBe("node->hub");
    for (const kind of HUB_TO_NODE_KINDS) expect(TOPICS[kind].direction).toBe("hub->node");
    for (const kind of FLEET_KINDS) expect(TOPICS[kind].direction).toBe("hub->fleet");
    expect<readonly string[]>(OUTBOX_KINDS).toEqual(NODE_TO_HUB_KINDS.filter((kind) => TOPICS[kind].viaOutbox));
    for (const kind of Object.keys(TOPICS) as (keyof typeof TOPICS)[]) {
      expect(deliveryOf(kind)).toBe(TOPICS[kind].delivery);
      expect(retainAllowed(kind)).toBe(TOPICS[kind].delivery.retain);
    }
    expect(retainAllowed("heartbeat")).toBe(false);
  });

  test("a node publishes exactly its node->hub kinds and reads its hub->node kinds and the fleet's", () => {
    expect(nodePublishTopics("pi-1")).toEqual(NODE_TO_HUB_KINDS.map((kind) => `edgefed/v1/nodes/pi-1/${kind}`));
    expect(nodeSubscriptions("pi-1")).toEqual([
      ...HUB_TO_NODE_KINDS.map((kind) => ({ topic: `edgefed/v1/nodes/pi-1/${kind}`, kind })),
      ...FLEET_KINDS.map((kind) => ({ topic: `edgefed/v1/${kind}`, kind })),
    ]);
  });

  test("every kind decodes through its schema; the heartbeat through its fast guard", () => {
    const hubState = decodeTopic("hub/state", Buffer.from(JSON.stringify({ state: "online", ts: 5 })));
    expect(hubState).toEqual({ ok: true, value: { state: "online", ts: 5 } });
    expect(decodeTopic("hub/state", Buffer.from(JSON.stringify({ state: "up", ts: 5 })))).toMatchObject({ ok: false, error: expect.stringMatching(/^state: /) });
    expect(decodeTopic("heartbeat", Buffer.from("{}"))).toMatchObject({ ok: false });
    expect(decodeTopic("state", Buffer.alloc(0))).toEqual({ ok: false, error: "payload is not JSON" });
    for (const kind of Object.keys(TOPICS) as (keyof typeof TOPICS)[]) expect(TOPICS[kind].schema).toBeDefined();
  });
});
