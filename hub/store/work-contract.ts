// The store contract's part on work packages (hub/work/work-model.ts):
// the state machine checked in the store, fencing by attempt number, the
// history of every transition, idempotency keys. describeStoreContract
// runs it against each backend.
import { describe, expect, test } from "bun:test";
import type { NewWorkPackage, WorkChange } from "../work/work-model.ts";
import type { HubStore } from "./hub-store.ts";

const NOW = 1_700_000_000_000;

export function workPackage(id: string, overrides: Partial<NewWorkPackage> = {}): NewWorkPackage {
  return {
    id,
    kind: "diagnostics",
    payload: { depth: 1 },
    requires: ["diagnostics"],
    target: "any",
    strategy: "least_loaded",
    group: null,
    deadlineAt: null,
    leaseMs: 30_000,
    maxAttempts: 2,
    idempotencyKey: null,
    createdAt: NOW,
    ...overrides,
  };
}

export function describeWorkContract(name: string, fresh: () => Promise<HubStore>): void {
  describe(`${name}: work packages`, () => {
    test("a package is stored queued, reads back whole, and lists newest first filtered by state, kind and node, paged by seq", async () => {
      const store = await fresh();
      const added = await store.write(async (tx) => {
        await tx.work.add(workPackage("wp_a"));
        await tx.work.add(workPackage("wp_b", { kind: "gate.replay", idempotencyKey: "key-b" }));
        return tx.work.add(workPackage("wp_c"));
      });
      expect(added).toMatchObject({ seq: 3, id: "wp_c", state: "queued", attempt: 0, node: null, payload: { depth: 1 }, requires: ["diagnostics"] });
      expect(await store.work.get("wp_c")).toEqual(added);
      expect(await store.work.get("wp_none")).toBeUndefined();
      expect((await store.work.byIdempotencyKey("key-b"))?.id).toBe("wp_b");
      await store.write((tx) => tx.work.transition("wp_a", { to: "leased", node: "pi-1", leaseExpiresAt: NOW + 10, cause: "scheduled" }, NOW + 1));
      const ids = async (q: Parameters<HubStore["work"]["list"]>[0]) => (await store.work.list(q)).map((p) => p.id);
      expect(await ids({ limit: 10 })).toEqual(["wp_c", "wp_b", "wp_a"]);
      expect(await ids({ limit: 2 })).toEqual(["wp_c", "wp_b"]);
      expect(await ids({ limit: 10, beforeSeq: 2 })).toEqual(["wp_a"]);
      expect(await ids({ limit: 10, state: "queued" })).toEqual(["wp_c", "wp_b"]);
      expect(await ids({ limit: 10, kind: "gate.replay" })).toEqual(["wp_b"]);
      expect(await ids({ limit: 10, node: "pi-1" })).toEqual(["wp_a"]);
      expect((await store.work.active()).map((p) => p.id)).toEqual(["wp_a", "wp_b", "wp_c"]);
      expect(await store.work.activeCount()).toBe(3);
      expect(await store.work.countByState()).toEqual({ queued: 2, leased: 1, running: 0, succeeded: 0, failed: 0, expired: 0, cancelled: 0 });
    });

    test("a taken idempotency key is refused and the write leaves nothing", async () => {
      const store = await fresh();
      await store.write((tx) => tx.work.add(workPackage("wp_1", { idempotencyKey: "same" })));
      const second = store.write((tx) => tx.work.add(workPackage("wp_2", { idempotencyKey: "same" })));
      expect(second).rejects.toThrow();
      await second.catch(() => {});
      expect(await store.work.get("wp_2")).toBeUndefined();
    });

    test("a package runs leased -> running -> succeeded; its attempt and every transition are recorded", async () => {
      const store = await fresh();
      await store.write((tx) => tx.work.add(workPackage("wp_1")));
      const leased = await store.write((tx) => tx.work.transition("wp_1", { to: "leased", node: "pi-1", leaseExpiresAt: NOW + 30_000, cause: "least_loaded" }, NOW + 1));
      expect(leased).toMatchObject({ ok: true, package: { state: "leased", node: "pi-1", attempt: 1, leaseExpiresAt: NOW + 30_000 } });
      const running = await store.write((tx) => tx.work.transition("wp_1", { to: "running", attempt: 1, progress: 40, leaseExpiresAt: NOW + 40_000, cause: "progress" }, NOW + 2));
      expect(running).toMatchObject({ ok: true, package: { state: "running", progress: 40, leaseExpiresAt: NOW + 40_000 } });
      const done = await store.write((tx) => tx.work.transition("wp_1", { to: "succeeded", attempt: 1, result: { ok: 1 }, cause: "result" }, NOW + 3));
      expect(done).toMatchObject({ ok: true, package: { state: "succeeded", result: { ok: 1 }, leaseExpiresAt: null, updatedAt: NOW + 3 } });
      expect(done.ok && (await store.work.get("wp_1"))).toEqual(done.ok && done.package);
      expect(await store.work.attempts("wp_1")).toEqual([{ attempt: 1, node: "pi-1", leasedAt: NOW + 1, endedAt: NOW + 3, outcome: "succeeded", error: null }]);
      expect((await store.work.events("wp_1")).map((e) => [e.from, e.to, e.attempt, e.cause])).toEqual([
        ["queued", "queued", 0, "submitted"],
        ["queued", "leased", 1, "least_loaded"],
        ["leased", "running", 1, "progress"],
        ["running", "succeeded", 1, "result"],
      ]);
      expect((await store.work.active()).length).toBe(0);
      expect(await store.work.activeCount()).toBe(0);
    });

    test("a transition from the wrong state is refused and changes nothing; a refused result is recorded", async () => {
      const store = await fresh();
      await store.write((tx) => tx.work.add(workPackage("wp_1")));
      // queued cannot run or succeed before it is leased.
      expect(await store.write((tx) => tx.work.transition("wp_1", { to: "running", attempt: 0, progress: 1, leaseExpiresAt: NOW, cause: "progress" }, NOW))).toMatchObject({
        ok: false,
        reason: "wrong_state",
      });
      await store.write((tx) => tx.work.transition("wp_1", { to: "cancelled", cause: "operator" }, NOW + 1));
      for (const change of [
        { to: "leased", node: "pi-1", leaseExpiresAt: NOW, cause: "scheduled" },
        { to: "expired", cause: "deadline" },
        { to: "cancelled", cause: "again" },
      ] as const) {
        expect(await store.write((tx) => tx.work.transition("wp_1", change, NOW + 2))).toMatchObject({ ok: false, reason: "wrong_state", package: { state: "cancelled" } });
      }
      expect(await store.write((tx) => tx.work.transition("wp_none", { to: "cancelled", cause: "x" }, NOW))).toEqual({ ok: false, reason: "unknown", package: undefined });
      expect((await store.work.get("wp_1"))!.state).toBe("cancelled");
      const events = await store.work.events("wp_1");
      expect(events.map((e) => [e.from, e.to])).toEqual([
        ["queued", "queued"],
        ["queued", null], // the refused progress
        ["queued", "cancelled"],
      ]);
    });

    test("fencing: after a lease expires and the package is leased again, the old attempt's result is refused and recorded; the new one's accepted once", async () => {
      const store = await fresh();
      await store.write((tx) => tx.work.add(workPackage("wp_1", { maxAttempts: 3 })));
      const move = (change: WorkChange, at: number) => store.write((tx) => tx.work.transition("wp_1", change, at));
      await move({ to: "leased", node: "pi-1", leaseExpiresAt: NOW + 10, cause: "scheduled" }, NOW);
      expect(await move({ to: "queued", attempt: 1, cause: "lease expired" }, NOW + 11)).toMatchObject({ ok: true, package: { state: "queued", attempt: 1, node: "pi-1" } });
      await move({ to: "leased", node: "pi-2", leaseExpiresAt: NOW + 30, cause: "scheduled" }, NOW + 12);
      expect(await move({ to: "succeeded", attempt: 1, result: { from: "pi-1" }, cause: "result" }, NOW + 13)).toMatchObject({ ok: false, reason: "stale_attempt" });
      expect(await move({ to: "succeeded", attempt: 2, result: { from: "pi-2" }, cause: "result" }, NOW + 14)).toMatchObject({ ok: true });
      expect(await move({ to: "succeeded", attempt: 2, result: { from: "pi-2 again" }, cause: "result" }, NOW + 15)).toMatchObject({ ok: false, reason: "wrong_state" });
      const done = await store.work.get("wp_1");
      expect(done).toMatchObject({ state: "succeeded", node: "pi-2", attempt: 2, result: { from: "pi-2" } });
      expect(await store.work.attempts("wp_1")).toEqual([
        { attempt: 1, node: "pi-1", leasedAt: NOW, endedAt: NOW + 11, outcome: "lease_expired", error: null },
        { attempt: 2, node: "pi-2", leasedAt: NOW + 12, endedAt: NOW + 14, outcome: "succeeded", error: null },
      ]);
      const refused = (await store.work.events("wp_1")).filter((e) => e.to === null);
      expect(refused.map((e) => [e.attempt, e.at])).toEqual([
        [1, NOW + 13],
        [2, NOW + 15],
      ]);
      expect(refused[0]!.cause).toContain("attempt 1 is not the current 2");
    });

    test("a lease expiring on the last attempt fails the package", async () => {
      const store = await fresh();
      await store.write((tx) => tx.work.add(workPackage("wp_1", { maxAttempts: 1 })));
      await store.write((tx) => tx.work.transition("wp_1", { to: "leased", node: "pi-1", leaseExpiresAt: NOW + 10, cause: "scheduled" }, NOW));
      const outcome = await store.write((tx) => tx.work.transition("wp_1", { to: "queued", attempt: 1, cause: "lease expired" }, NOW + 11));
      expect(outcome).toMatchObject({ ok: true, package: { state: "failed", error: "lease expired on attempt 1, the last of 1" } });
      expect((await store.work.attempts("wp_1"))[0]).toMatchObject({ outcome: "lease_expired", endedAt: NOW + 11 });
    });

    test("expiry and cancel end a running attempt; a fleet submit's packages read back by group; all of it survives reopening", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.work.add(workPackage("wp_1", { group: "wp_1", target: "pi-1", idempotencyKey: "fleet-key" }));
        await tx.work.add(workPackage("wp_2", { group: "wp_1", target: "pi-2" }));
        await tx.work.transition("wp_1", { to: "leased", node: "pi-1", leaseExpiresAt: NOW + 10, cause: "scheduled" }, NOW);
        await tx.work.transition("wp_2", { to: "leased", node: "pi-2", leaseExpiresAt: NOW + 10, cause: "scheduled" }, NOW);
        await tx.work.transition("wp_1", { to: "expired", cause: "deadline passed" }, NOW + 5);
        await tx.work.transition("wp_2", { to: "cancelled", cause: "cancelled by an operator" }, NOW + 6);
      });
      expect((await store.work.group("wp_1")).map((p) => [p.id, p.state, p.error])).toEqual([
        ["wp_1", "expired", "deadline passed"],
        ["wp_2", "cancelled", "cancelled by an operator"],
      ]);
      expect((await store.work.attempts("wp_2"))[0]).toMatchObject({ outcome: "cancelled", endedAt: NOW + 6 });
      expect((await store.work.byIdempotencyKey("fleet-key"))?.id).toBe("wp_1");
    });
  });
}
