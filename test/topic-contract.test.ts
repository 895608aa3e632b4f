// The topic table (protocol/topics.ts) against everything derived from it:
// the broker ACLs (embedded broker and Mosquitto roles), the hub's
// subscription filters, its ingest handlers and the agent's outbox. Each part
// reads the table, so these hold by construction; this test is the proof, and
// the first thing to fail if a part goes back to a list of its own.
import { describe, expect, test } from "bun:test";
import { nodeMayPublish, nodeMaySubscribe } from "../hub/broker/acl.ts";
import { nodeAcls, sharedNodeAcls } from "../hub/broker/mosquitto-dynsec.ts";
import { INGEST_HANDLERS } from "../hub/ingest/ingest.ts";
import { INGEST_FILTERS } from "../hub/mqtt/hub-mqtt.ts";
import {
  FLEET_KINDS,
  HUB_TO_NODE_KINDS,
  NODE_TO_HUB_KINDS,
  OUTBOX_KINDS,
  TOPICS,
  everyNodeFilter,
  fleetTopic,
  nodeSubscriptions,
  nodeTopic,
  retainAllowed,
} from "../protocol/topics.ts";

const NODE = "pi-1";
const OTHER = "pi-2";
/** What a node's client holds on Mosquitto: the role every node shares and its own. */
const role = [...sharedNodeAcls(), ...nodeAcls(NODE)];
const roleTopics = (acltype: string) => role.filter((acl) => acl.acltype === acltype && acl.allow).map((acl) => acl.topic);

describe("the topic table and what is derived from it agree", () => {
  test("every kind has exactly one direction", () => {
    expect([...NODE_TO_HUB_KINDS, ...HUB_TO_NODE_KINDS, ...FLEET_KINDS].sort()).toEqual(Object.keys(TOPICS).sort() as (keyof typeof TOPICS)[]);
  });

  test("node->hub kinds: the node may publish them (both brokers), the hub listens to them and has a handler for each", () => {
    expect(Object.keys(INGEST_HANDLERS).sort()).toEqual([...NODE_TO_HUB_KINDS].sort());
    expect([...INGEST_FILTERS].sort()).toEqual(NODE_TO_HUB_KINDS.map(everyNodeFilter).sort());
    for (const kind of NODE_TO_HUB_KINDS) {
      const own = nodeTopic(NODE, kind);
      expect(nodeMayPublish(NODE, own)).toBe(true);
      expect(roleTopics("publishClientSend")).toContain(own);
      expect(nodeMayPublish(NODE, nodeTopic(OTHER, kind))).toBe(false);
      expect(nodeMaySubscribe(NODE, own)).toBe(false);
      expect(roleTopics("subscribeLiteral")).not.toContain(own);
    }
  });

  test("hub->node and hub->fleet kinds: no node may publish them; the node reads its own and the fleet's; the hub does not ingest them", () => {
    const inbound = nodeSubscriptions(NODE);
    expect(inbound.map((s) => s.kind).sort()).toEqual([...HUB_TO_NODE_KINDS, ...FLEET_KINDS].sort());
    for (const { topic } of inbound) {
      expect(nodeMayPublish(NODE, topic)).toBe(false);
      expect(roleTopics("publishClientSend")).not.toContain(topic);
      expect(nodeMaySubscribe(NODE, topic)).toBe(true);
      expect(roleTopics("subscribeLiteral")).toContain(topic);
    }
    for (const kind of HUB_TO_NODE_KINDS) {
      expect(nodeMaySubscribe(NODE, nodeTopic(OTHER, kind))).toBe(false);
      expect(INGEST_FILTERS).not.toContain(everyNodeFilter(kind));
      expect(Object.keys(INGEST_HANDLERS)).not.toContain(kind);
    }
    for (const kind of FLEET_KINDS) expect(fleetTopic(kind)).toBe(`edgefed/v1/${kind}`);
  });

  test("the Mosquitto role holds exactly the topics the embedded broker allows", () => {
    expect(roleTopics("publishClientSend").sort()).toEqual(NODE_TO_HUB_KINDS.map((kind) => nodeTopic(NODE, kind)).sort());
    expect(roleTopics("subscribeLiteral").sort()).toEqual(nodeSubscriptions(NODE).map((s) => s.topic).sort());
    expect(role.every((acl) => acl.allow)).toBe(true);
    // Receiving is allowed under the whole root: the exact subscribe ACLs above are the gate.
    expect(roleTopics("publishClientReceive")).toEqual(["edgefed/v1/#"]);
  });

  test("a node may retain exactly what the table retains", () => {
    for (const kind of NODE_TO_HUB_KINDS) expect(nodeMayPublish(NODE, nodeTopic(NODE, kind), true)).toBe(retainAllowed(kind));
    expect(retainAllowed("heartbeat")).toBe(false);
  });

  test("the outbox carries only node->hub kinds, none of them retained (it never replaces an older queued message)", () => {
    for (const kind of OUTBOX_KINDS) {
      expect(NODE_TO_HUB_KINDS).toContain(kind);
      expect(retainAllowed(kind)).toBe(false);
    }
  });
});
