// bun run bench federation-rebuild
// How long a restarted hub takes to rebuild its federation engine
// (hub/federation/rebuild.ts) at a big fleet: a registry file holding an
// hour of NODES (default 1,000) nodes' federation events (a portfolio per
// node per 5 s, health, models, closes, node health: the synthetic fleet
// stream), written first and not timed; then the rebuild from it with the
// default config (every window up to the hour REBUILD_WINDOW_MAX_MS), its
// events per second, and the heap it leaves.
// limit = reading the same events back from the registry alone (the store's
// paged list, JSON parsed), the floor of the rebuild.
import { rmSync } from "node:fs";
import { DEFAULT_FEDERATION_CONFIG } from "../hub/federation/config.ts";
import { FederationEngine } from "../hub/federation/engine.ts";
import { rebuildEngine, rebuildWindowMs } from "../hub/federation/rebuild.ts";
import type { NodeFederationEvent } from "../hub/store/hub-store.ts";
import { openSqliteStore } from "../hub/store/sqlite/sqlite-store.ts";
import { DEFAULT_POLICY } from "../kernel/policy.ts";
import { registeredNode } from "../test/fixtures/node-record.ts";
import { fleetStream, STREAM_START } from "../test/fixtures/federation-stream.ts";
import { tempDir } from "../test/helpers.ts";
import { printResult, printTable, round } from "./report.ts";

const NODES = Number(process.env.NODES ?? 1000);
const DURATION_S = 3600;

const dir = tempDir("edgefed-bench-rebuild-");
const store = openSqliteStore(dir);
await store.write(async (tx) => {
  for (let i = 0; i < NODES; i++) await tx.nodes.save(registeredNode(`sim-${String(i).padStart(4, "0")}`, STREAM_START));
});
let written = 0;
let batch: NodeFederationEvent[] = [];
let newest = STREAM_START;
const writeStart = performance.now();
for (const event of fleetStream({ nodes: NODES, durationS: DURATION_S, seed: 7 })) {
  if (event.type === "tick") continue;
  batch.push(event);
  newest = Math.max(newest, event.at);
  if (batch.length === 20_000) {
    const events = batch;
    await store.write((tx) => tx.federationEvents.add(events));
    written += events.length;
    batch = [];
  }
}
await store.write((tx) => tx.federationEvents.add(batch));
written += batch.length;
const writeSeconds = (performance.now() - writeStart) / 1000;

// The floor: the same pages read and parsed, nothing folded.
const from = newest - rebuildWindowMs(DEFAULT_FEDERATION_CONFIG);
let readStart = performance.now();
let read = 0;
for (let afterSeq: number | undefined; ; ) {
  const page = await store.federationEvents.list({ from, afterSeq, limit: 5000 });
  read += page.length;
  if (page.length < 5000) break;
  afterSeq = page.at(-1)!.seq;
}
const readSeconds = (performance.now() - readStart) / 1000;

Bun.gc(true);
const heapBefore = process.memoryUsage().heapUsed;
const engine = new FederationEngine(DEFAULT_FEDERATION_CONFIG, { policyOf: () => DEFAULT_POLICY });
const start = performance.now();
const rebuilt = await rebuildEngine(engine, store, [], newest);
const seconds = (performance.now() - start) / 1000;
Bun.gc(true);
const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
await store.close();
rmSync(dir, { recursive: true, force: true });

printTable(`rebuild of the federation engine, an hour of a ${NODES.toLocaleString("en-US")}-node fleet in the registry`, [
  ["events in the registry", written],
  ["writing them (not timed below), s", round(writeSeconds, 1)],
  ["events folded in", rebuilt.events],
  ["rebuild, s", round(seconds, 2)],
  ["rebuild events/s", rebuilt.events / seconds],
  ["reading alone, events/s (limit)", read / readSeconds],
  ["engine heap after, MiB", round(heapMb, 1)],
]);
printResult({
  bench: "federation-rebuild",
  value: round(rebuilt.events / seconds),
  unit: "events/s",
  limit: round(read / readSeconds),
  extra: { nodes: NODES, events: rebuilt.events, rebuild_s: round(seconds, 2), heap_mib: round(heapMb, 1) },
});
