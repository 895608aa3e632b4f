// Tests for Fleet.commit (fleet.ts) on a real registry file: the node's live
// state is in the file (for another connection) when the promise resolves,
// without a flush; commits asked for in one turn share one write; a write
// queued in the group commit before it is committed with it; and a failed
// commit leaves the node to the next flush instead of losing it.
import { afterEach, expect, test } from "bun:test";
import { openRegistry, type Registry } from "../store/registry.ts";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { Fleet } from "./fleet.ts";
import { emptyLive, type NodeRecord } from "./node-model.ts";

afterEach(cleanUp);

const T0 = 1_700_000_000_000;

function node(nodeId: string): NodeRecord {
  return {
    nodeId,
    registrationId: `reg-${nodeId}`,
    publicKey: "k".repeat(43),
    capabilities: ["kernel"],
    arch: "arm64",
    version: "0.0.1",
    endpoint: null,
    passwordHash: "0".repeat(64),
    registeredAt: T0,
    credentialsAt: T0,
    proofTs: null,
    health: "offline",
    healthSince: T0,
    healthCause: "registered, not heard from yet",
    live: emptyLive(),
  };
}

function setUp(nodeIds: string[]): { registry: Registry; fleet: Fleet; other: Registry; committedLastSeq(nodeId: string): number } {
  const dataDir = tempDir();
  const registry = closeLater(openRegistry(dataDir));
  for (const id of nodeIds) registry.nodes.save(node(id));
  const rules = { heartbeatMs: 1000, offlineAfterMs: 10_000, degradedLoad: 4, listeningSince: T0 };
  const fleet = new Fleet(registry.nodes, (work) => registry.db.transaction(work), rules, (work) => registry.group.run(work));
  // Another connection to the same file: sees only what is committed.
  const other = closeLater(openRegistry(dataDir));
  return { registry, fleet, other, committedLastSeq: (nodeId) => other.nodes.get(nodeId)!.live.verdicts.lastSeq };
}

test("commit() resolves once the node's live state is in the registry file, without a flush", async () => {
  const { fleet, committedLastSeq } = setUp(["pi-1", "pi-2"]);
  fleet.get("pi-1")!.live.verdicts.lastSeq = 7;
  fleet.get("pi-2")!.live.verdicts.lastSeq = 9;
  const committed = fleet.commit("pi-1");
  expect(committedLastSeq("pi-1")).toBe(0);
  await committed;
  expect(committedLastSeq("pi-1")).toBe(7);
  expect(committedLastSeq("pi-2")).toBe(0); // only the node asked for
});

test("commits asked for in one turn share one write, taking the state as it is when the write runs", async () => {
  const { fleet, committedLastSeq } = setUp(["pi-1"]);
  const live = fleet.get("pi-1")!.live;
  live.verdicts.lastSeq = 1;
  const first = fleet.commit("pi-1");
  live.verdicts.lastSeq = 2;
  expect(fleet.commit("pi-1")).toBe(first);
  await first;
  expect(committedLastSeq("pi-1")).toBe(2);
  live.verdicts.lastSeq = 3;
  const next = fleet.commit("pi-1"); // after the write ran: a new one
  expect(next).not.toBe(first);
  await next;
  expect(committedLastSeq("pi-1")).toBe(3);
});

test("a write queued in the group commit before commit() is committed when commit() resolves", async () => {
  const { registry, fleet, other } = setUp(["pi-1"]);
  void registry.group.run(() => registry.saveSetting("queued-before", "yes")); // as a decision ack's row is
  await fleet.commit("pi-1");
  expect(other.setting("queued-before")).toBe("yes");
});

test("a failed commit rejects and leaves the node for the next flush", async () => {
  const { registry, fleet, committedLastSeq } = setUp(["pi-1"]);
  registry.db.exec("CREATE TRIGGER refuse BEFORE UPDATE ON nodes BEGIN SELECT RAISE(ABORT, 'refused for the test'); END");
  fleet.get("pi-1")!.live.verdicts.lastSeq = 5;
  await expect(fleet.commit("pi-1")).rejects.toThrow("refused for the test");
  registry.db.exec("DROP TRIGGER refuse");
  expect(fleet.flush()).toBe(1);
  expect(committedLastSeq("pi-1")).toBe(5);
});

test("commit() of a node the fleet does not know resolves at once", async () => {
  const { fleet } = setUp([]);
  await fleet.commit("nobody");
});
