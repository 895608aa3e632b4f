// Tests for Fleet.commit (fleet.ts) on a real registry file: the node's live
// state is in the file (for another connection) when the promise resolves,
// without a flush; commits asked for in one turn share one write; a write
// queued in the group commit before it is committed with it; and a failed
// commit leaves the node to the next flush instead of losing it.
import { afterEach, expect, test } from "bun:test";
import type { HubStore } from "../store/hub-store.ts";
import { openHubStore } from "../store/open-hub-store.ts";
import { openSqliteRegistry, type SqliteRegistry } from "../store/sqlite/sqlite-store.ts";
import { registeredNode } from "../../test/fixtures/node-record.ts";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { Fleet } from "./fleet.ts";

afterEach(cleanUp);

const T0 = 1_700_000_000_000;

async function setUp(nodeIds: string[]): Promise<{ store: HubStore; fleet: Fleet; other: SqliteRegistry; committedLastSeq(nodeId: string): Promise<number> }> {
  const dataDir = tempDir();
  const store = closeLater(await openHubStore({ dataDir }));
  await store.write(async (tx) => {
    for (const id of nodeIds) await tx.nodes.save(registeredNode(id, T0));
  });
  const rules = { heartbeatMs: 1000, offlineAfterMs: 10_000, degradedLoad: 4, listeningSince: T0 };
  const fleet = await Fleet.load(store, rules);
  // Another connection to the same file: sees only what is committed.
  const other = closeLater(openSqliteRegistry(dataDir));
  return { store, fleet, other, committedLastSeq: async (nodeId) => (await other.nodes.get(nodeId))!.live.verdicts.lastSeq };
}

test("commit() resolves once the node's live state is in the registry file, without a flush", async () => {
  const { fleet, committedLastSeq } = await setUp(["pi-1", "pi-2"]);
  fleet.get("pi-1")!.live.verdicts.lastSeq = 7;
  fleet.get("pi-2")!.live.verdicts.lastSeq = 9;
  const committed = fleet.commit("pi-1");
  expect(await committedLastSeq("pi-1")).toBe(0);
  await committed;
  expect(await committedLastSeq("pi-1")).toBe(7);
  expect(await committedLastSeq("pi-2")).toBe(0); // only the node asked for
});

test("commits asked for in one turn share one write, taking the state as it is when the write runs", async () => {
  const { fleet, committedLastSeq } = await setUp(["pi-1"]);
  const live = fleet.get("pi-1")!.live;
  live.verdicts.lastSeq = 1;
  const first = fleet.commit("pi-1");
  live.verdicts.lastSeq = 2;
  expect(fleet.commit("pi-1")).toBe(first);
  await first;
  expect(await committedLastSeq("pi-1")).toBe(2);
  live.verdicts.lastSeq = 3;
  const next = fleet.commit("pi-1"); // after the write ran: a new one
  expect(next).not.toBe(first);
  await next;
  expect(await committedLastSeq("pi-1")).toBe(3);
});

test("a write queued in the group commit before commit() is committed when commit() resolves", async () => {
  const { store, fleet, other } = await setUp(["pi-1"]);
  void store.write((tx) => tx.hubValues.put("queued-before", "yes")); // as a decision ack's row is
  await fleet.commit("pi-1");
  expect(await other.hubValues.get("queued-before")).toBe("yes");
});

test("a failed commit rejects and leaves the node for the next flush", async () => {
  const { fleet, other, committedLastSeq } = await setUp(["pi-1"]);
  other.db.exec("CREATE TRIGGER refuse BEFORE UPDATE ON nodes BEGIN SELECT RAISE(ABORT, 'refused for the test'); END");
  fleet.get("pi-1")!.live.verdicts.lastSeq = 5;
  await expect(fleet.commit("pi-1")).rejects.toThrow("refused for the test");
  other.db.exec("DROP TRIGGER refuse");
  expect(await fleet.flush()).toBe(1);
  expect(await committedLastSeq("pi-1")).toBe(5);
});

test("commit() of a node the fleet does not know resolves at once", async () => {
  const { fleet } = await setUp([]);
  await fleet.commit("nobody");
});
