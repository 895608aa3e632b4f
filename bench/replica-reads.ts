// bun run bench replica-reads   what keeping hub replicas in step costs
// Two "replicas" (a store and a change feed each, hub/replicas/change-feed.ts)
// on one PostgreSQL 15 started for the run (test/support/postgres.ts, fsync
// on, loopback TCP):
// (a) change heard: A announces a change in a write; how long from the
//     write's start until B's handler has it, against the write alone
//     (start to commit), ROUNDS times one at a time.
// (b) read barrier, one reader: what a read served from memory on a shared
//     registry waits before it answers (ChangeFeed.barrier: NOTIFY a nonce on
//     the replica's own channel, wait for it on the listening connection),
//     ROUNDS times; against a plain `SELECT 1` on the pool, the floor of any
//     round trip (limit).
// (c) read barrier, READERS readers at once, each looping ROUNDS times:
//     reads/s and round trips per read (reads in one turn share a barrier).
// (e) what announcing costs writers: WRITES small writes (a row upserted
//     each, as an ack is), IN_FLIGHT at a time: without announcing, with a
//     change announced in each transaction (PostgreSQL serialises the commits
//     of transactions that notified), and announced after each commit,
//     gathered (announceCommitted, as acks are).
// (d) GET /federation/nodes/<id> on a hub on that registry (plaintext HTTP,
//     embedded broker), HTTP_ROUNDS one at a time, with the barrier and, on
//     the same hub, with the change feed taken off its context (no barrier).
import { startPostgres } from "../test/support/postgres.ts";
import { openPostgresStore } from "../hub/store/postgres/postgres-store.ts";
import { ChangeFeed } from "../hub/replicas/change-feed.ts";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";
import { newNode, registerBody, startTestHub } from "../test/support/hub-harness.ts";
import { removeTempDirs } from "../test/helpers.ts";
import type { HubContext } from "../hub/hub-context.ts";
import { percentile, printResult, printTable, round } from "./report.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 1000);
const READERS = Number(process.env.READERS ?? 50);
const HTTP_ROUNDS = Number(process.env.HTTP_ROUNDS ?? 2000);
const WRITES = Number(process.env.WRITES ?? 5000);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 50);

const msSince = (started: number) => performance.now() - started;
const sorted = (values: number[]) => [...values].sort((x, y) => x - y);

const postgres = await startPostgres({ durable: true });
try {
  const url = await postgres.freshRegistryUrl();
  const [storeA, storeB] = [await openPostgresStore(url), await openPostgresStore(url)];
  const [feedA, feedB] = [await ChangeFeed.start(storeA.notifications!, "a", console.log), await ChangeFeed.start(storeB.notifications!, "b", console.log)];
  let heard: (() => void) | null = null;
  feedB.on("node", () => heard?.());
  feedB.ready();
  feedA.ready();

  const heardMs: number[] = [];
  const writeMs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const arrived = new Promise<void>((resolve) => (heard = resolve));
    const started = performance.now();
    await storeA.write((tx) => feedA.announce(tx, { kind: "node", id: `pi-${i}` }));
    writeMs.push(msSince(started));
    await arrived;
    heardMs.push(msSince(started));
  }

  const selectMs: number[] = [];
  const barrierMs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let started = performance.now();
    await storeB.healthy(); // SELECT 1 on the pool
    selectMs.push(msSince(started));
    started = performance.now();
    if (!(await feedB.barrier())) throw new Error("a barrier timed out");
    barrierMs.push(msSince(started));
  }

  let roundTrips = 0;
  const notify = storeB.notifications!.notify;
  (storeB.notifications as { notify: typeof notify }).notify = (channel, payload) => (roundTrips++, notify(channel, payload));
  const concurrentStarted = performance.now();
  await Promise.all(
    Array.from({ length: READERS }, async () => {
      for (let i = 0; i < ROUNDS; i++) await feedB.barrier();
    }),
  );
  const readsPerS = (READERS * ROUNDS) / (msSince(concurrentStarted) / 1000);

  // (e) writers with and without announcements.
  const writesPerS = async (announce: "none" | "in transaction" | "after commit"): Promise<number> => {
    let next = 0;
    const started = performance.now();
    const writer = async () => {
      while (next < WRITES) {
        const n = next++;
        await storeA.write(async (tx) => {
          await tx.hubValues.put(`bench-${n % 1000}`, String(n));
          if (announce === "in transaction") await feedA.announce(tx, { kind: "decision", id: `dec_${n}` });
        });
        if (announce === "after commit") feedA.announceCommitted({ kind: "decision", id: `dec_${n}` });
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, writer));
    return WRITES / (msSince(started) / 1000);
  };
  const plainWritesPerS = await writesPerS("none");
  const announcingWritesPerS = await writesPerS("in transaction");
  const announcedAfterWritesPerS = await writesPerS("after commit");

  // (d) through a hub's HTTP API.
  const unlimited = String(10 * HTTP_ROUNDS);
  const t = await startTestHub({ tls: false, env: { EDGEFED_DATABASE_URL: url, EDGEFED_HUB_ID: "bench", EDGEFED_RATE_ADMIN_BURST: unlimited, EDGEFED_RATE_ADMIN_PER_S: unlimited } });
  const token = await createEnrollmentToken(storeA, { uses: 1, ttlMs: 3_600_000, label: "bench" }, Date.now());
  if ((await t.api("POST", "/federation/register", registerBody(newNode("bench-pi")), token)).status !== 201) throw new Error("registering the bench node failed");
  const nodeViewMs = async (): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; i < HTTP_ROUNDS; i++) {
      const started = performance.now();
      if ((await t.api("GET", "/federation/nodes/bench-pi")).status !== 200) throw new Error("the node view failed");
      times.push(msSince(started));
    }
    return sorted(times);
  };
  const context = t.hub.context as { changeFeed: HubContext["changeFeed"] };
  const withBarrier = await nodeViewMs();
  const feed = context.changeFeed;
  context.changeFeed = null;
  const withoutBarrier = await nodeViewMs();
  context.changeFeed = feed;
  await t.stop();
  removeTempDirs();

  const [heardSorted, writeSorted, selectSorted, barrierSorted] = [sorted(heardMs), sorted(writeMs), sorted(selectMs), sorted(barrierMs)];
  printTable(`replica reads: ${ROUNDS} rounds, ${READERS} concurrent readers`, [
    ["write with its announcement, to commit, p50 (ms)", percentile(writeSorted, 50)],
    ["write start to change heard on the other replica, p50 (ms)", percentile(heardSorted, 50)],
    ["write start to change heard on the other replica, p99 (ms)", percentile(heardSorted, 99)],
    ["SELECT 1 on the pool, p50 (ms)", percentile(selectSorted, 50)],
    ["read barrier, one reader, p50 (ms)", percentile(barrierSorted, 50)],
    ["read barrier, one reader, p99 (ms)", percentile(barrierSorted, 99)],
    [`read barrier, ${READERS} readers (reads/s)`, readsPerS],
    [`round trips per read, ${READERS} readers`, roundTrips / (READERS * ROUNDS)],
    [`writes, ${IN_FLIGHT} in flight, without an announcement (/s)`, plainWritesPerS],
    [`writes, ${IN_FLIGHT} in flight, each announcing a change in it (/s)`, announcingWritesPerS],
    [`writes, ${IN_FLIGHT} in flight, announced after commit, gathered (/s)`, announcedAfterWritesPerS],
    ["GET /federation/nodes/<id>, with the barrier, p50 (ms)", percentile(withBarrier, 50)],
    ["GET /federation/nodes/<id>, with the barrier, p99 (ms)", percentile(withBarrier, 99)],
    ["GET /federation/nodes/<id>, without, p50 (ms)", percentile(withoutBarrier, 50)],
    ["GET /federation/nodes/<id>, without, p99 (ms)", percentile(withoutBarrier, 99)],
  ]);
  printResult({
    bench: "replica-reads",
    value: round(percentile(barrierSorted, 50), 3),
    unit: "ms (read barrier p50, one reader)",
    limit: round(percentile(selectSorted, 50), 3),
    extra: {
      barrierP99Ms: round(percentile(barrierSorted, 99), 3),
      writeP50Ms: round(percentile(writeSorted, 50), 3),
      heardP50Ms: round(percentile(heardSorted, 50), 3),
      heardP99Ms: round(percentile(heardSorted, 99), 3),
      concurrentReadsPerS: round(readsPerS),
      roundTripsPerRead: round(roundTrips / (READERS * ROUNDS), 3),
      plainWritesPerS: round(plainWritesPerS),
      announcingWritesPerS: round(announcingWritesPerS),
      announcedAfterCommitWritesPerS: round(announcedAfterWritesPerS),
      nodeViewP50Ms: round(percentile(withBarrier, 50), 3),
      nodeViewP99Ms: round(percentile(withBarrier, 99), 3),
      nodeViewWithoutBarrierP50Ms: round(percentile(withoutBarrier, 50), 3),
      nodeViewWithoutBarrierP99Ms: round(percentile(withoutBarrier, 99), 3),
    },
  });
  await Promise.all([feedA.stop(), feedB.stop()]);
  await Promise.all([storeA.close(), storeB.close()]);
} finally {
  await postgres.stop();
}
