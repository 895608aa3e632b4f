// bun run bench registry   the hub's registry on PostgreSQL against SQLite
// The same HubStore work on both backends in the same run, on this machine:
// SQLite a file in a temp dir (synchronous=FULL, group commit), PostgreSQL 15
// from Debian's package started for the run (test/support/postgres.ts: its
// own temp cluster on the same disk, fsync on, default settings otherwise,
// reached over loopback TCP).
// (a) fleet flush: NODES registered nodes; FLUSHES writes of every node's
//     live view, a minute bucket each and transitions for 1 % of them, as
//     the fleet view flushes (hub/nodes/fleet.ts). value = PostgreSQL's
//     node updates/s; limit = SQLite's.
// (b) registrations: REGISTRATIONS writes, IN_FLIGHT at a time, each
//     spending a token use and saving a node, as POST /federation/register
//     does; with TOKENS=1 (the default) all with one token, as a fleet
//     enrolled with one token is, so every registration takes that token's
//     row lock until it commits; TOKENS=N spreads them over N tokens.
//     Reported as registrations/s for both.
// (c) fleet view flush on PostgreSQL: NODES nodes each hear a heartbeat,
//     then the fleet view (Fleet.flush) writes them, FLUSHES times: as one
//     hub overwrites the live views (store.shared off, as before replicas)
//     and as a replica merges them into the stored rows under their locks
//     (hub/nodes/ordered-write.ts). node writes/s for both. Then the
//     replicas' health sweep's read of every node's stored recency
//     (NodeReads.recency), best of 5, in ms.
import { tmpdir } from "node:os";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { registeredNode } from "../test/fixtures/node-record.ts";
import { startPostgres } from "../test/support/postgres.ts";
import type { HubStore, MetricBucket } from "../hub/store/hub-store.ts";
import { openPostgresStore } from "../hub/store/postgres/postgres-store.ts";
import { openSqliteStore } from "../hub/store/sqlite/sqlite-store.ts";
import { emptyLive } from "../hub/nodes/node-model.ts";
import { Fleet } from "../hub/nodes/fleet.ts";
import { applyHeartbeat } from "../hub/ingest/node-messages.ts";
import { heartbeatMessage } from "../test/fixtures/node-messages.ts";
import { printResult, printTable, round } from "./report.ts";

const NODES = Number(process.env.NODES ?? 10_000);
const FLUSHES = Number(process.env.FLUSHES ?? 10);
const REGISTRATIONS = Number(process.env.REGISTRATIONS ?? 2_000);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 50);
const TOKENS = Number(process.env.TOKENS ?? 1);
const NOW = Date.now();

async function fleetFlushPerS(store: HubStore): Promise<number> {
  const nodes = Array.from({ length: NODES }, (_, i) => registeredNode(`pi-${i}`, NOW));
  for (let i = 0; i < NODES; i += 1000) await store.write(async (tx) => { for (const node of nodes.slice(i, i + 1000)) await tx.nodes.save(node); });
  const started = performance.now();
  for (let flush = 1; flush <= FLUSHES; flush++) {
    const at = NOW + flush * 1000;
    const live = nodes.map((node, i) => ({ ...node, health: "healthy" as const, live: { ...emptyLive(), lastSeen: at, heartbeats: flush, heartbeatSeq: flush, load: [i % 4, 0, 0] as [number, number, number] } }));
    const buckets: MetricBucket[] = nodes.map((node) => ({ nodeId: node.nodeId, at, load: 1, rssBytes: 1e6, outboxDepth: 0, verdicts: { PASS: flush, HOLD: 0 }, byReason: {} }));
    const transitions = nodes.filter((_, i) => i % 100 === flush % 100).map((node) => ({ nodeId: node.nodeId, transition: { from: "offline" as const, to: "healthy" as const, at, cause: "heartbeat" } }));
    await store.write(async (tx) => {
      await tx.nodes.saveLive(live);
      await tx.metricBuckets.add(buckets);
      await tx.nodes.addTransitions(transitions);
    });
  }
  return (NODES * FLUSHES) / ((performance.now() - started) / 1000);
}

/** (c): the fleet view's flush of NODES nodes that each heard a heartbeat; `shared` says whether it merges (replicas) or overwrites. */
async function fleetViewFlushPerS(store: HubStore, shared: boolean): Promise<{ perS: number; recencyMs: number }> {
  const nodes = Array.from({ length: NODES }, (_, i) => registeredNode(`pi-${i}`, NOW));
  for (let i = 0; i < NODES; i += 1000) await store.write(async (tx) => { for (const node of nodes.slice(i, i + 1000)) await tx.nodes.save(node); });
  const fleet = await Fleet.load(Object.create(store, { shared: { value: shared } }) as HubStore, { heartbeatMs: 1000, offlineAfterMs: 10_000, degradedLoad: 4, listeningSince: NOW });
  const started = performance.now();
  for (let flush = 1; flush <= FLUSHES; flush++) {
    const at = NOW + flush * 1000;
    for (const node of fleet.all()) {
      applyHeartbeat(node, heartbeatMessage(flush, at), at);
      fleet.touched(node, at);
    }
    await fleet.flush(at);
  }
  const perS = (NODES * FLUSHES) / ((performance.now() - started) / 1000);
  let recencyMs = Infinity;
  for (let run = 0; run < 5; run++) {
    const readStarted = performance.now();
    await store.nodes.recency();
    recencyMs = Math.min(recencyMs, performance.now() - readStarted);
  }
  return { perS, recencyMs };
}

async function registrationsPerS(store: HubStore): Promise<number> {
  const tokens = Array.from({ length: TOKENS }, (_, i) => `bench-token-${i}`);
  await store.write(async (tx) => {
    for (const hash of tokens) await tx.tokens.add({ hash, label: "bench", usesLeft: null, expiresAt: null, createdAt: NOW, createdBy: "bench" });
  });
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < REGISTRATIONS) {
      const n = next++;
      const node = registeredNode(`reg-${n}`, NOW);
      await store.write(async (tx) => {
        if (!(await tx.tokens.spendUse(tokens[n % TOKENS]!, NOW))) throw new Error("token refused");
        await tx.nodes.save(node);
      });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return REGISTRATIONS / ((performance.now() - started) / 1000);
}

async function measure(open: () => Promise<HubStore>): Promise<{ flush: number; registrations: number }> {
  const flushStore = await open();
  const flush = await fleetFlushPerS(flushStore);
  await flushStore.close();
  const registrationStore = await open();
  const registrations = await registrationsPerS(registrationStore);
  await registrationStore.close();
  return { flush, registrations };
}

const dir = mkdtempSync(join(tmpdir(), "edgefed-bench-registry-"));
const postgres = await startPostgres({ durable: true });
try {
  let sqliteRuns = 0;
  const sqlite = await measure(async () => openSqliteStore(join(dir, `sqlite-${++sqliteRuns}`)));
  const pg = await measure(async () => openPostgresStore(await postgres.freshRegistryUrl()));
  const viewFlush = async (shared: boolean) => {
    const store = await openPostgresStore(await postgres.freshRegistryUrl());
    try {
      return await fleetViewFlushPerS(store, shared);
    } finally {
      await store.close();
    }
  };
  const overwrite = await viewFlush(false);
  const merge = await viewFlush(true);
  printTable(`registry: ${NODES} nodes x ${FLUSHES} flushes; ${REGISTRATIONS} registrations, ${IN_FLIGHT} in flight, ${TOKENS} token(s)`, [
    ["fleet flush, SQLite (node updates/s)", sqlite.flush],
    ["fleet flush, PostgreSQL (node updates/s)", pg.flush],
    ["fleet view flush, PostgreSQL, one hub overwriting (node writes/s)", overwrite.perS],
    ["fleet view flush, PostgreSQL, replica merging (node writes/s)", merge.perS],
    ["replicas' sweep read of every node's recency, PostgreSQL (ms)", merge.recencyMs],
    ["registrations, SQLite (/s)", sqlite.registrations],
    ["registrations, PostgreSQL (/s)", pg.registrations],
  ]);
  printResult({
    bench: "registry",
    value: round(pg.flush),
    unit: "node updates/s (PostgreSQL fleet flush)",
    limit: round(sqlite.flush),
    extra: {
      sqliteRegistrationsPerS: round(sqlite.registrations),
      postgresRegistrationsPerS: round(pg.registrations),
      postgresViewFlushOverwritePerS: round(overwrite.perS),
      postgresViewFlushMergePerS: round(merge.perS),
      postgresRecencyReadMs: round(merge.recencyMs),
    },
  });
} finally {
  await postgres.stop();
  rmSync(dir, { recursive: true, force: true });
}
