// The work scheduler on a real registry file with a clock the test moves:
// the round robin order survives a restart, a node's concurrency limit is
// never exceeded, deadlines expire packages, a lease that runs out sends the
// package back to the queue until max_attempts, and the offers it publishes.
import { SoleLeadership } from "../replicas/leadership.ts";
import { afterEach, expect, test } from "bun:test";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { registeredNode } from "../../test/fixtures/node-record.ts";
import type { WorkOfferMessage } from "../../protocol/work-messages.ts";
import type { HubContext } from "../hub-context.ts";
import { emptyLive } from "../nodes/node-model.ts";
import { Fleet } from "../nodes/fleet.ts";
import { openSqliteStore } from "../store/sqlite/sqlite-store.ts";
import type { HubStore } from "../store/hub-store.ts";
import { workPackage } from "../store/work-contract.ts";
import { WorkScheduler } from "./work-scheduler.ts";

afterEach(cleanUp);

const T0 = 1_700_000_000_000;

interface Setup {
  store: HubStore;
  scheduler: WorkScheduler;
  offers: { node: string; offer: WorkOfferMessage }[];
  clock: { now: number };
  tick(): Promise<void>;
}

/** A hub's scheduler over `dir`'s registry holding healthy nodes with these work slots. */
async function setUp(dir: string, slots: Record<string, number>, clock = { now: T0 }, startedAt = T0): Promise<Setup> {
  const store = closeLater(openSqliteStore(dir));
  await store.write(async (tx) => {
    for (const [nodeId, workSlots] of Object.entries(slots)) {
      await tx.nodes.save(registeredNode(nodeId, T0, { capabilities: ["diagnostics"], health: "healthy", live: { ...emptyLive(), workSlots, state: "online" } }));
    }
  });
  const fleet = await Fleet.load(store, { heartbeatMs: 1000, offlineAfterMs: 10_000, degradedLoad: 4, listeningSince: 0 });
  const offers: Setup["offers"] = [];
  const hub = {
    store,
    fleet,
    clock: () => clock.now,
    log: () => {},
    startedAt,
    leadership: new SoleLeadership(),
    publish: async (topic: string, payload: string) => void offers.push({ node: topic.split("/")[3]!, offer: JSON.parse(payload) }),
  } as unknown as HubContext;
  const scheduler = await WorkScheduler.start(hub, 3_600_000);
  closeLater({ close: () => scheduler.stop() });
  const tick = async () => {
    await scheduler.settled();
    scheduler.kick();
    await scheduler.settled();
  };
  await tick();
  return { store, scheduler, offers, clock, tick };
}

const submitted = (store: HubStore, ids: string[], overrides: Parameters<typeof workPackage>[1] = {}) =>
  store.write(async (tx) => {
    for (const id of ids) await tx.work.add(workPackage(`wp_${id}`, overrides));
  });

test("round robin continues where it left off after a restart (the cursor is in the registry)", async () => {
  const dir = tempDir();
  const slots = { "pi-a": 10, "pi-b": 10, "pi-c": 10 };
  const first = await setUp(dir, slots);
  await submitted(first.store, ["1", "2"], { strategy: "round_robin" });
  await first.tick();
  expect(first.offers.map((o) => o.node)).toEqual(["pi-a", "pi-b"]);
  await first.scheduler.stop();
  await first.store.close();

  const again = await setUp(dir, slots);
  await submitted(again.store, ["3", "4"], { strategy: "round_robin" });
  await again.tick();
  expect(again.offers.map((o) => o.node)).toEqual(["pi-c", "pi-a"]);
});

test("a node's concurrency limit is never exceeded; a result frees its slot", async () => {
  const { store, offers, tick, scheduler, clock } = await setUp(tempDir(), { "pi-one": 1, "pi-none": 0 });
  await submitted(store, ["1", "2", "3"]);
  await tick();
  expect(offers.map((o) => [o.node, o.offer.id, o.offer.attempt])).toEqual([["pi-one", "wp_1", 1]]);
  expect((await store.work.countByState()).queued).toBe(2);
  expect(await scheduler.onResult("pi-one", { id: "wp_1", attempt: 1, ok: true, result: { fine: true }, ts: clock.now }, clock.now)).toBeNull();
  await tick();
  expect(offers.map((o) => o.offer.id)).toEqual(["wp_1", "wp_2"]);
  expect(await scheduler.onResult("pi-one", { id: "wp_1", attempt: 1, ok: true, result: { again: true }, ts: clock.now }, clock.now)).toContain("refused (wrong_state)");
});

test("a lease that runs out goes back to the queue and is offered again, then fails at max_attempts; progress renews it", async () => {
  const { store, offers, tick, scheduler, clock } = await setUp(tempDir(), { "pi-a": 5 });
  await submitted(store, ["1"], { leaseMs: 10_000, maxAttempts: 2 });
  await tick();
  clock.now += 8_000;
  expect(await scheduler.onProgress("pi-a", { id: "wp_1", attempt: 1, progress: 50, ts: clock.now }, clock.now)).toBeNull();
  clock.now += 8_000; // 16 s after the lease, 8 s after the progress renewed it
  await tick();
  expect(await store.work.get("wp_1")).toMatchObject({ state: "running", attempt: 1, progress: 50 });
  clock.now += 3_000;
  await tick(); // taken back and offered again in the same tick
  expect(offers.map((o) => o.offer.attempt)).toEqual([1, 2]);
  clock.now += 10_000;
  await tick();
  expect(await store.work.get("wp_1")).toMatchObject({ state: "failed", error: "lease expired on attempt 2, the last of 2" });
  expect((await store.work.attempts("wp_1")).map((a) => a.outcome)).toEqual(["lease_expired", "lease_expired"]);
});

test("a package past its deadline expires, queued or leased", async () => {
  const { store, tick, clock } = await setUp(tempDir(), { "pi-a": 1 });
  await submitted(store, ["1", "2"], { deadlineAt: T0 + 5_000 });
  await tick();
  expect((await store.work.countByState())).toMatchObject({ leased: 1, queued: 1 });
  clock.now = T0 + 5_000;
  await tick();
  expect((await store.work.countByState())).toMatchObject({ leased: 0, queued: 0, expired: 2 });
});

test("an offer's first progress times the node's round trip; the latency strategy measures each node before it prefers one", async () => {
  const { store, offers, tick, scheduler, clock } = await setUp(tempDir(), { "pi-a": 5, "pi-b": 5 });
  await submitted(store, ["1", "2"], { strategy: "latency" });
  await tick();
  expect(offers.map((o) => o.node).sort()).toEqual(["pi-a", "pi-b"]); // neither measured: one each
  expect(scheduler.roundTrips()).toEqual({});
  await scheduler.onProgress("pi-a", { id: offers[0]!.offer.id, attempt: 1, progress: 0, ts: clock.now }, clock.now);
  await scheduler.onProgress("pi-a", { id: offers[0]!.offer.id, attempt: 1, progress: 10, ts: clock.now }, clock.now); // only the first progress is a round trip
  expect(Object.keys(scheduler.roundTrips())).toEqual([offers[0]!.node]);
  expect(scheduler.roundTrips()[offers[0]!.node]).toBeGreaterThanOrEqual(0);
});

test("a queued package whose target node was removed fails instead of waiting for ever", async () => {
  const { store, tick } = await setUp(tempDir(), { "pi-a": 0 });
  await submitted(store, ["1"], { target: "pi-gone" });
  await submitted(store, ["2"], { target: "pi-a" });
  await tick();
  expect(await store.work.get("wp_1")).toMatchObject({ state: "failed", error: "its target node pi-gone was removed" });
  expect((await store.work.get("wp_2"))!.state).toBe("queued");
});

test("a hub that was down gives every lease one full length from its start before taking it back (the node could not say progress)", async () => {
  const dir = tempDir();
  const before = await setUp(dir, { "pi-a": 1 });
  await submitted(before.store, ["1"], { leaseMs: 10_000 });
  await before.tick();
  await before.scheduler.stop();
  await before.store.close();

  const restartedAt = T0 + 60_000; // the lease ran out while the hub was down
  const after = await setUp(dir, { "pi-a": 1 }, { now: restartedAt + 1_000 }, restartedAt);
  expect(await after.store.work.get("wp_1")).toMatchObject({ state: "leased", attempt: 1 });
  after.clock.now = restartedAt + 10_000;
  await after.tick();
  expect(await after.store.work.get("wp_1")).toMatchObject({ state: "leased", attempt: 2 });
});

test("a kick after stop() places nothing (ingest's onBirth while the hub stops, still leading)", async () => {
  const { store, scheduler, offers } = await setUp(tempDir(), { "pi-a": 10 });
  await scheduler.stop();
  const ticksAtStop = scheduler.ticks;
  await submitted(store, ["late"]);
  scheduler.kick();
  await scheduler.settled();
  expect(scheduler.ticks).toBe(ticksAtStop);
  expect(offers).toEqual([]);
});
