// ReplicaSync (replica-sync.ts) on a real PostgreSQL registry and a real
// Fleet: a node another replica registered is looked up when its first
// message beats the notification; unknown ids cost one lookup each, are
// remembered, and only a few are looked up at once (the others wait their
// turn). Lookups are counted on the store's node reads; a registry that does
// not answer is a read that throws.
import { describe, expect, test } from "bun:test";
import { registeredNode } from "../../test/fixtures/node-record.ts";
import { postgresForThisFile, postgresUnavailable } from "../../test/support/postgres.ts";
import type { NodeMessageHandler } from "../mqtt/commit-before-ack.ts";
import { Fleet } from "../nodes/fleet.ts";
import { nodeTopic } from "../../protocol/topics.ts";
import { CONCURRENT_LOOKUPS, ReplicaSync } from "./replica-sync.ts";

const T0 = 1_700_000_000_000;
const RULES = { heartbeatMs: 1000, offlineAfterMs: 10_000, degradedLoad: 4, listeningSince: T0 };
const unavailable = postgresUnavailable();

if (unavailable) {
  describe.skip(`replica sync (${unavailable})`, () => test("sync", () => {}));
} else {
  const registries = postgresForThisFile();

  /** A replica's fleet and sync on a fresh registry, its node reads counted; `other` writes as another replica would. */
  async function setUp() {
    const url = await registries.server().freshRegistryUrl();
    const [store, other] = await Promise.all([registries.openStore(url), registries.openStore(url)]);
    const lookedUp: string[] = [];
    const reads = { inFlight: 0, most: 0, failing: false, failNext: 0 };
    const get = store.nodes.get.bind(store.nodes);
    store.nodes.get = async (nodeId) => {
      lookedUp.push(nodeId);
      if (reads.failing || (reads.failNext > 0 && reads.failNext--)) throw new Error("the registry did not answer");
      reads.most = Math.max(reads.most, ++reads.inFlight);
      try {
        return await get(nodeId);
      } finally {
        reads.inFlight--;
      }
    };
    const fleet = await Fleet.load(store, RULES);
    const forgotten: string[] = [];
    const sync = new ReplicaSync(store, fleet, { forgotten: (id) => void forgotten.push(id), tookUp: () => {} }, () => T0);
    /** What reaches the handler: the node id and whether the fleet knew it by then. */
    const handled: Array<[string, boolean]> = [];
    const inner: NodeMessageHandler = (topic) => {
      const nodeId = topic.split("/")[3]!;
      handled.push([nodeId, fleet.get(nodeId) !== undefined]);
      return undefined;
    };
    return { store, other, fleet, sync, handle: sync.knownNodesFirst(inner), lookedUp, reads, handled, forgotten };
  }

  const heartbeatOf = (nodeId: string) => nodeTopic(nodeId, "heartbeat");
  const verdictsOf = (nodeId: string) => nodeTopic(nodeId, "verdicts");
  const payload = Buffer.from("{}");

  describe("replica sync", () => {
    test("the first messages of a node registered on another replica wait for one lookup, then go on in order with the node adopted", async () => {
      const { other, fleet, handle, lookedUp, handled } = await setUp();
      await other.write((tx) => tx.nodes.save(registeredNode("pi-elsewhere", T0)));
      await Promise.all([1, 2, 3].map(() => handle(heartbeatOf("pi-elsewhere"), payload, false)));
      expect(lookedUp).toEqual(["pi-elsewhere"]);
      expect(handled).toEqual([["pi-elsewhere", true], ["pi-elsewhere", true], ["pi-elsewhere", true]]);
      expect(fleet.get("pi-elsewhere")?.registrationId).toBe("reg_pi-elsewhere");
    });

    test("an unknown id is looked up once and then remembered: its later messages go on (to be dropped) without a query, until a registration is heard", async () => {
      const { other, sync, handle, lookedUp, handled } = await setUp();
      await handle(heartbeatOf("pi-nobody"), payload, false);
      await handle(heartbeatOf("pi-nobody"), payload, false);
      expect(lookedUp).toEqual(["pi-nobody"]);
      expect(handled).toEqual([["pi-nobody", false], ["pi-nobody", false]]);
      // Registered elsewhere afterwards: the feed's notification refreshes it, and it is known from then on.
      await other.write((tx) => tx.nodes.save(registeredNode("pi-nobody", T0)));
      await sync.refreshNode("pi-nobody");
      await handle(heartbeatOf("pi-nobody"), payload, false);
      expect(handled.at(-1)).toEqual(["pi-nobody", true]);
    });

    test("a flood of unknown ids at once runs only a few lookups at a time, and every message goes on after its own", async () => {
      const { other, handle, lookedUp, reads, handled } = await setUp();
      const registered = Array.from({ length: 20 }, (_, i) => `pi-flood-${i * 5}`);
      await other.write(async (tx) => {
        for (const id of registered) await tx.nodes.save(registeredNode(id, T0));
      });
      await Promise.all(Array.from({ length: 100 }, (_, i) => handle(heartbeatOf(`pi-flood-${i}`), payload, false)));
      expect(lookedUp).toHaveLength(100);
      expect(reads.most).toBeLessThanOrEqual(CONCURRENT_LOOKUPS);
      expect(handled).toHaveLength(100);
      // Past the first few too, a node registered elsewhere is adopted before its message goes on.
      expect(handled.filter(([, known]) => known).map(([id]) => id).sort()).toEqual([...registered].sort());
    });

    test("a lookup that fails fails the node's event (no PUBACK, the broker sends it again) and is not remembered; the next message looks again", async () => {
      const { other, handle, lookedUp, reads, handled } = await setUp();
      await other.write((tx) => tx.nodes.save(registeredNode("pi-hiccup", T0)));
      reads.failing = true;
      await expect(handle(verdictsOf("pi-hiccup"), payload, false)!).rejects.toThrow("the registry did not answer");
      // A heartbeat (QoS 0) is never sent again: lost with the lookup, not handed on as from an unknown node.
      expect(await handle(heartbeatOf("pi-hiccup"), payload, false)).toBeUndefined();
      expect(handled).toEqual([]);
      reads.failing = false;
      await handle(verdictsOf("pi-hiccup"), payload, false);
      expect(handled).toEqual([["pi-hiccup", true]]);
      expect(lookedUp.filter((id) => id === "pi-hiccup").length).toBeGreaterThanOrEqual(2);
    });

    test("a message queued behind a refresh the feed started that failed looks the node up itself", async () => {
      const { other, sync, handle, reads, handled } = await setUp();
      await other.write((tx) => tx.nodes.save(registeredNode("pi-notified", T0)));
      reads.failNext = 1;
      const refresh = sync.refreshNode("pi-notified"); // the feed's notification, its read fails
      const message = handle(verdictsOf("pi-notified"), payload, false);
      await expect(refresh).rejects.toThrow("the registry did not answer");
      await message;
      expect(handled).toEqual([["pi-notified", true]]);
    });

    test("a node removed on another replica is dropped, with its desired policy", async () => {
      const { other, fleet, sync, forgotten } = await setUp();
      await other.write((tx) => tx.nodes.save(registeredNode("pi-removed", T0)));
      await sync.refreshNode("pi-removed");
      expect(fleet.get("pi-removed")).toBeDefined();
      await other.write(async (tx) => void (await tx.nodes.delete("pi-removed")));
      await sync.refreshNode("pi-removed");
      expect(fleet.get("pi-removed")).toBeUndefined();
      expect(forgotten).toEqual(["pi-removed"]);
    });

    test("after missed notifications (a reconnect), every node is read again: new ones adopted, removed ones dropped, re-registered ones take their new credentials", async () => {
      const { other, fleet, sync, forgotten } = await setUp();
      await other.write(async (tx) => {
        await tx.nodes.save(registeredNode("pi-stays", T0));
        await tx.nodes.save(registeredNode("pi-goes", T0));
      });
      await sync.reloadAll();
      expect(fleet.byId().map((node) => node.nodeId)).toEqual(["pi-goes", "pi-stays"]);
      await other.write(async (tx) => {
        await tx.nodes.delete("pi-goes");
        await tx.nodes.save(registeredNode("pi-new", T0));
        await tx.nodes.save(registeredNode("pi-stays", T0, { credentialsAt: T0 + 1, passwordHash: "1".repeat(64) }));
      });
      await sync.reloadAll();
      expect(fleet.byId().map((node) => node.nodeId)).toEqual(["pi-new", "pi-stays"]);
      expect(fleet.get("pi-stays")?.passwordHash).toBe("1".repeat(64));
      expect(forgotten).toEqual(["pi-goes"]);
    });
  });
}
