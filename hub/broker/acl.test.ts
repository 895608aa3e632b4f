// Tests for the broker ACL rules (acl.ts): a node publishes only what agents
// send under its own subtree and reads only its own cmd and policy, the fleet
// policy and the hub's state. Topics are compared exactly: no prefixes, no wildcards.
import { describe, expect, test } from "bun:test";
import { FLEET_KINDS, HUB_TO_NODE_KINDS, NODE_TO_HUB_KINDS } from "../../protocol/topics.ts";
import { fleetSubscribeTopics, nodeMayPublish, nodeMaySubscribe, nodeOwnSubscribeTopics, nodePublishTopics, nodeSubscribeTopics } from "./acl.ts";

const NODE = "pi-1";
const own = (kind: string) => `edgefed/v1/nodes/${NODE}/${kind}`;

describe("nodePublishTopics / nodeSubscribeTopics", () => {
  test("list exactly the node's own node->hub topics", () => {
    expect(nodePublishTopics(NODE).sort()).toEqual(NODE_TO_HUB_KINDS.map(own).sort());
  });

  test("list exactly the node's own hub->node topics and the hub->fleet ones", () => {
    expect(nodeSubscribeTopics(NODE).sort()).toEqual([...HUB_TO_NODE_KINDS.map(own), ...FLEET_KINDS.map((kind) => `edgefed/v1/${kind}`)].sort());
  });

  test("split into the node's own (hub->node) and the fleet's, the same for every node (Mosquitto's per-node and shared roles)", () => {
    expect(nodeOwnSubscribeTopics(NODE).sort()).toEqual(HUB_TO_NODE_KINDS.map(own).sort());
    expect(fleetSubscribeTopics().sort()).toEqual(FLEET_KINDS.map((kind) => `edgefed/v1/${kind}`).sort());
  });
});

describe("nodeMayPublish", () => {
  test("allows the node's state, birth, heartbeat, verdicts and cmd/ack", () => {
    for (const kind of ["state", "birth", "heartbeat", "verdicts", "cmd/ack"]) expect(nodeMayPublish(NODE, own(kind))).toBe(true);
  });

  test("allows the retain flag only on the latest-value kinds (state, birth): never on a heartbeat, verdict or ack", () => {
    for (const kind of ["state", "birth"]) expect(nodeMayPublish(NODE, own(kind), true)).toBe(true);
    for (const kind of ["heartbeat", "verdicts", "cmd/ack"]) {
      expect(nodeMayPublish(NODE, own(kind), true)).toBe(false);
      expect(nodeMayPublish(NODE, own(kind), false)).toBe(true);
    }
    expect(nodeMayPublish(NODE, "edgefed/v1/nodes/pi-2/state", true)).toBe(false);
  });

  test("refuses the node's own cmd and policy: those come from the hub", () => {
    expect(nodeMayPublish(NODE, own("cmd"))).toBe(false);
    expect(nodeMayPublish(NODE, own("policy"))).toBe(false);
  });

  test("refuses another node's topics", () => {
    for (const kind of ["state", "birth", "heartbeat", "verdicts", "cmd/ack", "cmd", "policy"]) {
      expect(nodeMayPublish(NODE, `edgefed/v1/nodes/pi-2/${kind}`)).toBe(false);
    }
  });

  test("refuses a node id that merely starts with the node's id", () => {
    expect(nodeMayPublish("pi-1", "edgefed/v1/nodes/pi-10/heartbeat")).toBe(false);
    expect(nodeMayPublish("pi-1", "edgefed/v1/nodes/pi-1-evil/state")).toBe(false);
    expect(nodeMayPublish("pi-10", "edgefed/v1/nodes/pi-1/heartbeat")).toBe(false);
  });

  test("refuses hub and fleet topics", () => {
    expect(nodeMayPublish(NODE, "edgefed/v1/hub/state")).toBe(false);
    expect(nodeMayPublish(NODE, "edgefed/v1/fleet/policy")).toBe(false);
  });

  test("refuses wildcards, sub-topics and look-alikes", () => {
    for (const topic of [
      "#",
      "edgefed/v1/#",
      "edgefed/v1/nodes/pi-1/#",
      "edgefed/v1/nodes/+/state",
      "edgefed/v1/nodes/pi-1/+",
      "edgefed/v1/nodes/pi-1/state/extra",
      "edgefed/v1/nodes/pi-1/cmd/ack/x",
      "edgefed/v1/nodes/pi-1/",
      "edgefed/v1/nodes/pi-1",
      "edgefed/v1/nodes/PI-1/state",
      "edgefed/v2/nodes/pi-1/state",
      "/edgefed/v1/nodes/pi-1/state",
      "edgefed/v1/nodes/pi-1/state ",
      "edgefed/v1/nodes//pi-1/state",
      "",
    ]) {
      expect(nodeMayPublish(NODE, topic)).toBe(false);
    }
  });
});

describe("nodeMaySubscribe", () => {
  test("allows exactly its own cmd and policy, the fleet policy and the hub state", () => {
    expect(nodeMaySubscribe(NODE, own("cmd"))).toBe(true);
    expect(nodeMaySubscribe(NODE, own("policy"))).toBe(true);
    expect(nodeMaySubscribe(NODE, "edgefed/v1/fleet/policy")).toBe(true);
    expect(nodeMaySubscribe(NODE, "edgefed/v1/hub/state")).toBe(true);
  });

  test("refuses wildcard filters", () => {
    for (const filter of [
      "#",
      "edgefed/#",
      "edgefed/v1/#",
      "edgefed/v1/nodes/+/cmd",
      "edgefed/v1/nodes/pi-1/#",
      "edgefed/v1/nodes/pi-1/+",
      "edgefed/v1/+/policy",
      "+/v1/hub/state",
      "$SYS/#",
    ]) {
      expect(nodeMaySubscribe(NODE, filter)).toBe(false);
    }
  });

  test("refuses another node's cmd and policy, including prefix look-alikes", () => {
    expect(nodeMaySubscribe(NODE, "edgefed/v1/nodes/pi-2/cmd")).toBe(false);
    expect(nodeMaySubscribe(NODE, "edgefed/v1/nodes/pi-2/policy")).toBe(false);
    expect(nodeMaySubscribe("pi-1", "edgefed/v1/nodes/pi-10/cmd")).toBe(false);
    expect(nodeMaySubscribe("pi-1", "edgefed/v1/nodes/pi-10/policy")).toBe(false);
  });

  test("refuses the node's own outgoing topics and other nodes' telemetry", () => {
    for (const kind of ["state", "birth", "heartbeat", "verdicts", "cmd/ack"]) {
      expect(nodeMaySubscribe(NODE, own(kind))).toBe(false);
      expect(nodeMaySubscribe(NODE, `edgefed/v1/nodes/pi-2/${kind}`)).toBe(false);
    }
  });

  test("refuses shared-subscription and sub-topic variants of allowed filters", () => {
    expect(nodeMaySubscribe(NODE, "$share/g/edgefed/v1/nodes/pi-1/cmd")).toBe(false);
    expect(nodeMaySubscribe(NODE, "edgefed/v1/nodes/pi-1/cmd/x")).toBe(false);
    expect(nodeMaySubscribe(NODE, "edgefed/v1/hub/state/#")).toBe(false);
    expect(nodeMaySubscribe(NODE, "edgefed/v1/fleet/#")).toBe(false);
  });
});
