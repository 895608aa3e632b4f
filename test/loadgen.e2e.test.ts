// The load generator (bun run loadgen) against a real hub with the embedded
// broker, as its own process with two workers: every node registers with its
// proof and connects, the hub sees all of them healthy, a decision sent to one
// is acknowledged, every connection dropped at once comes back, and the hub
// counts every verdict acknowledged to a node (by the hub's receipt: the hub
// receipts) exactly once (no gap), by the per-node seqs the load generator kept. A rerun with the same cache dir reuses the keys: the hub
// re-registers the same nodes (200, none new) and their seqs go on.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startChild, type Child } from "../bench/support/child.ts";
import { KEYS_FILE, SEQS_FILE, type VerdictSeqs } from "../bench/loadgen/key-cache.ts";
import { REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";

const NODES = 50;
let t: TestHub;
let cacheDir: string;

beforeAll(async () => {
  t = await startTestHub();
  cacheDir = tempDir("edgefed-loadgen-");
});
afterAll(async () => {
  await t.stop();
  removeTempDirs();
});

/** Starts the load generator; resolves once its warm-up is over (every node registered and connected). */
async function startLoadgen(durationS: number, extra: string[] = []): Promise<Child> {
  const args = [join(REPO_ROOT, "bench/loadgen/main.ts"), "--nodes", String(NODES), "--hub", t.hub.httpUrl, "--hub-ca", t.hub.tls!.caFile, "--processes", "2", ...extra];
  args.push("--duration-s", String(durationS), "--heartbeat-s", "1", "--verdicts-per-s", "50", "--cache-dir", cacheDir, "--warmup-s", "60");
  const env = { EDGEFED_ENROLL_TOKEN: t.enrollmentToken({ uses: 1000 }), EDGEFED_METRICS_TOKEN: t.adminToken };
  return startChild(args, env, /^warm-up \d+s registered (\d+)\//m, 90_000);
}

/** The summary's JSON line (bench format), once the run is over. */
async function summary(loadgen: Child): Promise<Record<string, number>> {
  return JSON.parse(`{"bench":"loadgen"${await loadgen.waitFor(/^\{"bench":"loadgen"(.*)$/m, 90_000)}`);
}

/**
 * Every verdict seq the load generator saw acknowledged is counted once: no
 * gap, the count equal to the last seq. Returns each node's duplicates (a
 * verdict sent again after a reconnect storm, whose PUBACK the drop lost).
 */
async function expectEveryVerdictOnce(): Promise<Record<string, number>> {
  const byHub = JSON.parse(readFileSync(join(cacheDir, SEQS_FILE), "utf8")) as VerdictSeqs;
  expect(Object.keys(byHub)).toHaveLength(1); // one hub: its public key
  const seqs = Object.values(byHub)[0]!;
  expect(Object.keys(seqs)).toHaveLength(NODES);
  const duplicates: Record<string, number> = {};
  for (const [nodeId, lastSeq] of Object.entries(seqs)) {
    const { body } = await t.api("GET", `/federation/nodes/${nodeId}`);
    const { last_seq, by_verdict, missing } = body.verdicts;
    expect({ nodeId, last_seq, counted: (by_verdict.PASS ?? 0) + (by_verdict.HOLD ?? 0), missing }).toEqual({ nodeId, last_seq: lastSeq, counted: lastSeq, missing: 0 });
    duplicates[nodeId] = body.verdicts.duplicates;
  }
  return duplicates;
}

test("50 nodes in 2 processes: all registered and healthy, a decision acked, a reconnect storm recovered, every verdict counted once; a rerun reuses the keys", async () => {
  const first = await startLoadgen(8, ["--reconnect-storm"]);
  expect(first.ready).toBe(String(NODES));
  const counts = await eventually(async () => {
    const { body } = await t.api("GET", "/federation/nodes");
    return body.counts.healthy === NODES && body.counts;
  }, 15_000, "every node healthy");
  expect(counts).toMatchObject({ healthy: NODES });

  const issued = await t.api("POST", "/api/federation/decisions", { type: "MODE_CHANGE", target: "lg-00007", payload: { mode: "PAUSED" } });
  expect(issued.status).toBe(201);
  const acks = await eventually(async () => {
    const { body } = await t.api("GET", `/api/federation/decisions/${issued.body.id}`);
    return body.acks.length > 0 && body.acks;
  }, 10_000, "the decision's ack");
  expect(acks).toMatchObject([{ node_id: "lg-00007", ok: true }]);

  const firstRun = await summary(first);
  expect(firstRun).toMatchObject({ value: NODES, limit: NODES, registered_new: NODES, registered_again: 0, registration_failures: 0, decision_acks: 1 });
  expect(firstRun.verdicts_acked).toBeGreaterThan(0);
  expect(firstRun.verdicts_pubacked).toBeGreaterThan(0);
  // The stop waits (bounded) for the receipts of what the hub committed.
  expect(firstRun.verdicts_awaiting_receipt).toBe(0);
  expect(firstRun.lag_p99_s).toBeGreaterThanOrEqual(0);
  expect(firstRun.storm_recovery_s).toBeGreaterThan(0);
  expect(firstRun.disconnects).toBeGreaterThanOrEqual(NODES);
  await first.stop();
  const duplicatesAfterFirst = await expectEveryVerdictOnce();

  const keys = readFileSync(join(cacheDir, KEYS_FILE), "utf8");
  const second = await startLoadgen(2);
  const secondRun = await summary(second);
  await second.stop();
  expect(secondRun).toMatchObject({ registered_new: 0, registered_again: NODES, registration_failures: 0 });
  expect(readFileSync(join(cacheDir, KEYS_FILE), "utf8")).toBe(keys);
  // The rerun's seqs went on from the first run's: none of its verdicts counted as a duplicate.
  expect(await expectEveryVerdictOnce()).toEqual(duplicatesAfterFirst);
}, 180_000);
