import { describe, expect, test } from "bun:test";
import { DELIVERY, FLEET_POLICY_TOPIC, HUB_STATE_TOPIC, NODE_TOPIC_KINDS, isNodeId, nodeSubtree, nodeTopic, parseNodeTopic } from "./topics.ts";

describe("topics", () => {
  test("node topics are built and parsed back for every kind", () => {
    for (const kind of NODE_TOPIC_KINDS) {
      const topic = nodeTopic("pi-01", kind);
      expect(topic).toBe(`edgefed/v1/nodes/pi-01/${kind}`);
      expect(parseNodeTopic(topic)).toEqual({ node: "pi-01", kind });
    }
    expect(nodeSubtree("pi-01")).toBe("edgefed/v1/nodes/pi-01/#");
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
      "edgefed/v2/nodes/pi-01/state",
      "edgefed/v1/hub/state",
      "other/edgefed/v1/nodes/pi-01/state",
    ]) {
      expect(parseNodeTopic(topic)).toBeNull();
    }
  });

  test("delivery follows the protocol table: heartbeats QoS 0, state/birth/policy retained", () => {
    expect(DELIVERY.heartbeat).toEqual({ qos: 0, retain: false });
    expect(DELIVERY.verdicts).toEqual({ qos: 1, retain: false });
    for (const kind of ["state", "birth", "policy", "hub/state", "fleet/policy"] as const) expect(DELIVERY[kind]).toEqual({ qos: 1, retain: true });
  });
});
