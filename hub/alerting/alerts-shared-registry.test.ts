// Alert numbering on a registry several hub replicas share (issue 16): each
// replica's sink over its own store (its own pool) on one real PostgreSQL.
// Raised at once on every replica, the alerts get distinct seqs 1..n and all
// are stored; numbering in a replica's memory gave both replicas the same
// seqs, and every second insert failed. A replica that starts leading waits
// out the last leader's window before it posts the shared outbox.
import { describe, expect, test } from "bun:test";
import { postgresForThisFile, postgresUnavailable } from "../../test/support/postgres.ts";
import { startWebhookSink } from "../../test/support/webhook-sink.ts";
import { Alerts } from "../alerts.ts";
import { LEADERSHIP_TICK_MS, SoleLeadership, TICK_TIMEOUT_MS } from "../replicas/leadership.ts";
import { WebhookGate } from "./webhook-gate.ts";
import { WebhookSender } from "./webhook-sender.ts";
import type { HubStore } from "../store/hub-store.ts";

const REPLICAS = 3;
const EACH = 20;
const T = 1_700_000_000_000;
const unavailable = postgresUnavailable();

if (unavailable) {
  describe.skip(`alerts on a shared registry (${unavailable})`, () => test("alerts", () => {}));
} else {
  const registries = postgresForThisFile();

  test("alerts raised at once on three replicas get distinct seqs 1..n, and every one is stored", async () => {
    const url = await registries.server().freshRegistryUrl();
    const stores: HubStore[] = [];
    for (let i = 0; i < REPLICAS; i++) stores.push(await registries.openStore(url));
    const logs: string[] = [];
    const sinks = await Promise.all(stores.map((store) => Alerts.load({ store, log: (line) => logs.push(line), clock: () => T, gate: null })));
    const raised = await Promise.all(
      sinks.flatMap((sink, replica) =>
        Array.from({ length: EACH }, (_, i) => sink.raise({ severity: "high", kind: "node_offline", subject: `pi-${replica}-${i}`, message: `pi-${replica}-${i} is offline`, at: T + i })),
      ),
    );
    const total = REPLICAS * EACH;
    expect(logs.filter((line) => line.startsWith("storing an alert failed"))).toEqual([]);
    expect(raised.map((alert) => alert.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const stored = await sinks[0]!.list({ limit: total + 1 });
    expect(stored.map((alert) => alert.seq)).toEqual(Array.from({ length: total }, (_, i) => total - i));
    // Each replica's own alerts are numbered in the order it raised them.
    for (let replica = 0; replica < REPLICAS; replica++) {
      const own = raised.slice(replica * EACH, (replica + 1) * EACH).map((alert) => alert.seq);
      expect([...own].sort((a, b) => a - b)).toEqual(own);
    }
  });

  test("a replica that starts leading posts nothing until the last leader may have noticed it lost the lock and its post timed out", async () => {
    const store = await registries.openStore(await registries.server().freshRegistryUrl());
    const sink = startWebhookSink();
    const TIMEOUT_MS = 1000;
    let now = T;
    const alerts = await Alerts.load({ store, log: () => {}, clock: () => now, gate: new WebhookGate({ posts: 100, windowMs: 60_000, dedupMs: 0 }) });
    /** A sender that starts leading at T; kicked at `at`, then stopped (a post it began is finished first): what it posted. */
    const postedWhenKickedAt = async (at: number): Promise<number> => {
      now = T;
      const sender = new WebhookSender({ url: sink.url, store, hub: { id: "hub", host: "host" }, timeoutMs: TIMEOUT_MS, retryBaseMs: 50, leadership: new SoleLeadership(), clock: () => now, log: () => {} });
      now = at;
      const before = sink.requests.length;
      sender.kick();
      await sender.stop();
      return sink.requests.length - before;
    };
    try {
      await alerts.raise({ severity: "high", kind: "node_offline", subject: "pi-1", message: "pi-1 is offline", at: T });
      // The last leader may start a post until its next lock check (a tick, and the check's timeout); that post runs up to the timeout.
      expect(await postedWhenKickedAt(T + TIMEOUT_MS + 1000 + 1)).toBe(0);
      expect(await postedWhenKickedAt(T + TIMEOUT_MS + LEADERSHIP_TICK_MS + TICK_TIMEOUT_MS + 1000)).toBe(1);
    } finally {
      alerts.stop();
      await sink.stop();
    }
  });
}
