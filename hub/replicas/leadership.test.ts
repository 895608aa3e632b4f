// Leadership over a real PostgreSQL (test/support/postgres.ts): three
// replicas try for the leader lock; one leads; when it stops, or its lock
// connection is closed by the server (as when its process dies), another takes
// over within a few ticks. A second process with a replica's id is refused.
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { postgresForThisFile, postgresUnavailable } from "../../test/support/postgres.ts";
import { eventually } from "../../test/support/hub-harness.ts";
import { openPostgresStore } from "../store/postgres/postgres-store.ts";
import { AdvisoryLockLeadership, LEADER_DUTIES, SoleLeadership } from "./leadership.ts";
import { GoneReplicaSessions } from "./session-takeover.ts";

const TICK_MS = 100;
/** Bound on a handover: the server frees the lock at once, the others try every tick. */
const HANDOVER_BOUND_MS = 5000;
const unavailable = postgresUnavailable();

test("on SQLite the one hub leads every duty", () => {
  const sole = new SoleLeadership();
  expect(sole.leads()).toBe(true);
  expect(sole.duties()).toEqual(LEADER_DUTIES);
});

if (unavailable) {
  describe.skip(`leadership on PostgreSQL (${unavailable})`, () => test("leadership", () => {}));
} else {
  const started: AdvisoryLockLeadership[] = [];
  const registries = postgresForThisFile(() => Promise.all(started.map((replica) => replica.stop())));

  async function replicas(url: string, ids: string[]): Promise<AdvisoryLockLeadership[]> {
    const list = await Promise.all(ids.map((replicaId) => AdvisoryLockLeadership.start({ databaseUrl: url, replicaId, log: () => {}, tickMs: TICK_MS, idWaitMs: 0 })));
    started.push(...list);
    return list;
  }

  /** A fresh registry, migrated (the replicas go on record in hub_replicas). */
  async function registry(): Promise<string> {
    const url = await registries.server().freshRegistryUrl();
    await (await openPostgresStore(url)).close();
    return url;
  }

  const leaders = (list: AdvisoryLockLeadership[]) => list.filter((replica) => replica.leads());

  describe("leadership on PostgreSQL", () => {
    test("one of three replicas leads; stopping it hands the duties to another within seconds", async () => {
      const list = await replicas(await registry(), ["a", "b", "c"]);
      const [first] = await eventually(() => (leaders(list).length === 1 ? leaders(list) : undefined), HANDOVER_BOUND_MS, "one leader");
      expect(first!.duties()).toEqual(LEADER_DUTIES);
      // Never two at once while the leader lives.
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, TICK_MS));
        expect(leaders(list)).toEqual([first!]);
      }
      const changes: boolean[] = [];
      first!.onChange((leading) => changes.push(leading));
      await first!.stop();
      expect(changes).toEqual([false]);
      const rest = list.filter((replica) => replica !== first);
      const [next] = await eventually(() => (leaders(rest).length === 1 ? leaders(rest) : undefined), HANDOVER_BOUND_MS, "another leader");
      expect(next).not.toBe(first);
    }, 3 * HANDOVER_BOUND_MS);

    test("a leader whose lock connection is closed by the server stops leading at once, and another takes over", async () => {
      const list = await replicas(await registry(), ["d", "e", "f"]);
      const [first] = await eventually(() => (leaders(list).length === 1 ? leaders(list) : undefined), HANDOVER_BOUND_MS, "one leader");
      const admin = postgres(registries.server().url, { max: 1, onnotice: () => {} });
      try {
        // What the server does when the leader's process dies: its session ends, its locks are freed.
        await admin`SELECT pg_terminate_backend(${first!.backendPid})`;
        await eventually(() => !first!.leads(), HANDOVER_BOUND_MS, "the old leader to notice");
        const others = list.filter((replica) => replica !== first);
        await eventually(() => leaders(list).length === 1 && others.includes(leaders(list)[0]!), HANDOVER_BOUND_MS, "another replica to lead");
      } finally {
        await admin.end();
      }
    }, 3 * HANDOVER_BOUND_MS);

    test("a second process with a replica's id is refused while the first lives, and gets it once the first is gone", async () => {
      const url = await registry();
      const [original] = await replicas(url, ["g"]);
      const again = AdvisoryLockLeadership.start({ databaseUrl: url, replicaId: "g", log: () => {}, tickMs: TICK_MS, idWaitMs: 0 });
      await expect(again).rejects.toThrow(/another hub process holds replica id "g" \(EDGEFED_HUB_ID\)/);
      await original!.stop();
      await replicas(url, ["g"]);
    });

    test("a live replica whose lock connection dropped is not taken for gone: only a lock seen free on two looks, held on none between, is", async () => {
      const url = await registry();
      const [leader] = await replicas(url, ["h"]);
      const [live] = await replicas(url, ["i"]);
      await eventually(() => leader!.leads(), HANDOVER_BOUND_MS, "h to lead");
      // The takeover's broker session is not what this test is about: it only records whose session would be resumed.
      const resumed: string[] = [];
      const gone = new GoneReplicaSessions({
        leadership: leader!,
        resume: (replicaId) => {
          resumed.push(replicaId);
          throw new Error("no broker in this test");
        },
        log: () => {},
        everyMs: 3_600_000,
        confirmGoneMs: 0,
      });
      const admin = postgres(registries.server().url, { max: 1, onnotice: () => {} });
      try {
        const droppedPid = live!.backendPid;
        await admin`SELECT pg_terminate_backend(${droppedPid})`;
        await eventually(async () => (await admin`SELECT 1 FROM pg_stat_activity WHERE pid = ${droppedPid}`).length === 0, HANDOVER_BOUND_MS, "the dropped backend gone");
        await gone.look(); // its lock free: seen once
        expect(resumed).toEqual([]);
        // Its new session is there before it holds its id lock again: wait for the lock itself, as the leader sees it.
        await eventually(async () => live!.backendPid !== droppedPid && !(await leader!.replicaLocks.idFree("i")), HANDOVER_BOUND_MS, "i to take its lock again");
        await gone.look(); // held again: forgotten
        await gone.look();
        expect(resumed).toEqual([]);

        await live!.stop(); // gone for real: free on this look and the next
        await gone.look();
        expect(resumed).toEqual([]);
        await gone.look();
        expect(resumed).toEqual(["i"]);
      } finally {
        await gone.stop();
        await admin.end();
      }
    }, 3 * HANDOVER_BOUND_MS);
  });
}
