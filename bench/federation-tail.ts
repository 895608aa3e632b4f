// bun run bench federation-tail
// What the committed-order tail of federation_events (hub/federation/
// event-tail.ts, FederationEventReads.committed) costs on a real PostgreSQL
// (fsync on), the feed of the one replica that runs the federation engine.
// 1. Catch-up: EVENTS (default 200,000) portfolio events of NODES nodes
//    already committed, read through committed() pages: events/s. limit =
//    the same events read by seq (list(), no snapshot horizon), the floor.
// 2. Live: WRITERS (default 3, one connection pool each, as replicas) each
//    commit a batch of their share every 100 ms (as the hub's flush does) at
//    RATE (default 5,000) events/s in all for SECONDS (default 10) while the
//    tail polls every TAIL_EVERY_MS: events read (as many as written),
//    queries/s, and the lag from an event's commit to its delivery, p50/p99.
import type { NodeFederationEvent } from "../hub/store/hub-store.ts";
import { FederationEventTail, TAIL_EVERY_MS } from "../hub/federation/event-tail.ts";
import { openPostgresStore } from "../hub/store/postgres/postgres-store.ts";
import { reportedPortfolio } from "../test/fixtures/portfolio.ts";
import { registeredNode } from "../test/fixtures/node-record.ts";
import { startPostgres } from "../test/support/postgres.ts";
import { percentile, printResult, printTable, round } from "./report.ts";

const NODES = Number(process.env.NODES ?? 1000);
const EVENTS = Number(process.env.EVENTS ?? 200_000);
const WRITERS = Number(process.env.WRITERS ?? 3);
const RATE = Number(process.env.RATE ?? 5000);
const SECONDS = Number(process.env.SECONDS ?? 10);
const PAGE = 1000;
const BATCH_EVERY_MS = 100;

const nodeId = (i: number) => `sim-${String(i % NODES).padStart(4, "0")}`;
const portfolioEvent = (i: number, at: number): NodeFederationEvent => ({ type: "portfolio", node: nodeId(i), at, report: reportedPortfolio(at) });

const postgres = await startPostgres({ durable: true });
try {
  const url = await postgres.freshRegistryUrl();
  const store = await openPostgresStore(url);
  await store.write(async (tx) => {
    for (let i = 0; i < NODES; i++) await tx.nodes.save(registeredNode(nodeId(i), Date.now()));
  });

  // 1. Catch-up, against reading the same rows by seq.
  const at = Date.now();
  for (let written = 0; written < EVENTS; written += 10_000) {
    const events = Array.from({ length: Math.min(10_000, EVENTS - written) }, (_, i) => portfolioEvent(written + i, at));
    await store.write((tx) => tx.federationEvents.add(events));
  }
  let start = performance.now();
  let caughtUp = 0;
  for (let after: string | undefined; ; ) {
    const page = await store.federationEvents.committed({ after, limit: PAGE });
    caughtUp += page.events.length;
    after = page.cursor;
    if (page.events.length < PAGE) break;
  }
  const catchUpPerS = caughtUp / ((performance.now() - start) / 1000);
  start = performance.now();
  let bySeq = 0;
  for (let afterSeq: number | undefined; ; ) {
    const page = await store.federationEvents.list({ afterSeq, limit: PAGE });
    bySeq += page.length;
    if (page.length < PAGE) break;
    afterSeq = page.at(-1)!.seq;
  }
  const bySeqPerS = bySeq / ((performance.now() - start) / 1000);

  // 2. Live: writers as replicas, the tail as the engine's feed.
  const { cursor } = await store.federationEvents.committed({ limit: 1, from: Date.now() + 1 });
  const lags: number[] = [];
  let delivered = 0;
  const tail = new FederationEventTail({
    store,
    after: cursor,
    log: (line) => console.error(line),
    deliver: (events) => {
      const now = Date.now();
      delivered += events.length;
      for (const event of events) lags.push(now - event.at);
    },
  });
  const writers = await Promise.all(Array.from({ length: WRITERS }, () => openPostgresStore(url)));
  const perBatch = Math.max(1, Math.round((RATE / WRITERS) * (BATCH_EVERY_MS / 1000)));
  let written = 0;
  const liveStart = performance.now();
  const cpuStart = process.cpuUsage();
  await Promise.all(
    writers.map(async (writer, w) => {
      for (let round = 0; performance.now() - liveStart < SECONDS * 1000; round++) {
        const due = liveStart + round * BATCH_EVERY_MS;
        if (due > performance.now()) await Bun.sleep(due - performance.now());
        // `at` is stamped just before the commit: the lag counts the commit, the horizon and the poll.
        const events = Array.from({ length: perBatch }, (_, i) => portfolioEvent(w * 100_000 + round * perBatch + i, Date.now()));
        await writer.write((tx) => tx.federationEvents.add(events));
        written += events.length;
      }
    }),
  );
  const deadline = performance.now() + 10_000;
  while (delivered < written && performance.now() < deadline) await Bun.sleep(20);
  const liveSeconds = (performance.now() - liveStart) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  await tail.stop();
  for (const writer of writers) await writer.close();
  await store.close();
  lags.sort((x, y) => x - y);

  printTable(`committed-order tail of federation_events (PostgreSQL, fsync on, ${NODES.toLocaleString("en-US")} nodes)`, [
    ["catch-up: events read", caughtUp],
    ["catch-up: events/s (committed order)", catchUpPerS],
    ["catch-up: events/s by seq (limit)", bySeqPerS],
    [`live: written by ${WRITERS} writers, events`, written],
    ["live: written events/s", written / SECONDS],
    ["live: read by the tail, events", delivered],
    ["live: tail queries/s", tail.counters.reads / liveSeconds],
    [`live: lag commit to delivery p50, ms (poll ${TAIL_EVERY_MS} ms)`, percentile(lags, 50)],
    ["live: lag p99, ms", percentile(lags, 99)],
    ["live: process CPU (writers + tail), %", round(((cpu.user + cpu.system) / 1e6 / liveSeconds) * 100, 1)],
  ]);
  if (delivered !== written) console.error(`the tail read ${delivered} of ${written} events`);
  printResult({
    bench: "federation-tail",
    value: round(catchUpPerS),
    unit: "events/s",
    limit: round(bySeqPerS),
    extra: { nodes: NODES, live_events_per_s: round(written / SECONDS), live_read: delivered, live_written: written, lag_p50_ms: percentile(lags, 50), lag_p99_ms: percentile(lags, 99) },
  });
} finally {
  await postgres.stop();
}
