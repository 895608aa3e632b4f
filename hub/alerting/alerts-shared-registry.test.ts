// Alert numbering on a registry several hub replicas share (issue 16): each
// replica's sink over its own store (its own pool) on one real PostgreSQL.
// Raised at once on every replica, the alerts get distinct seqs 1..n and all
// are stored; numbering in a replica's memory gave both replicas the same
// seqs, and every second insert failed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { POSTGRES_START_BOUND_MS, postgresUnavailable, startPostgres, type RunningPostgres } from "../../test/support/postgres.ts";
import { Alerts } from "../alerts.ts";
import type { HubStore } from "../store/hub-store.ts";
import { openPostgresStore } from "../store/postgres/postgres-store.ts";

const REPLICAS = 3;
const EACH = 20;
const T = 1_700_000_000_000;
const unavailable = postgresUnavailable();

if (unavailable) {
  describe.skip(`alerts on a shared registry (${unavailable})`, () => test("alerts", () => {}));
} else {
  let server: RunningPostgres;
  const stores: HubStore[] = [];
  beforeAll(async () => {
    server = await startPostgres();
  }, POSTGRES_START_BOUND_MS);
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await server?.stop();
  });

  test("alerts raised at once on three replicas get distinct seqs 1..n, and every one is stored", async () => {
    const url = await server.freshRegistryUrl();
    for (let i = 0; i < REPLICAS; i++) stores.push(await openPostgresStore(url));
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
}
