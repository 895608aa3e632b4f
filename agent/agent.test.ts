// The agent's scheduled work, run directly: the recovery sweep and journal
// compaction (their schedules are node-schedule's business); and the health
// the systemd watchdog is pinged on.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import { intentStream } from "../test/fixtures/intents.ts";
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import { testAgentConfig } from "../test/support/agent-harness.ts";
import { IntentProcessor } from "../kernel/intent-processor.ts";
import { openDatabase } from "../lib/sqlite.ts";
import { Agent, JOURNAL_FILE, type AgentConfig } from "./agent.ts";

const agents: Agent[] = [];
afterAll(async () => {
  for (const agent of agents) await agent.stop();
  removeTempDirs();
});

async function offlineAgent(nodeId: string, overrides: Partial<AgentConfig> = {}): Promise<Agent> {
  const agent = await Agent.start(testAgentConfig(null, nodeId, overrides));
  agents.push(agent);
  return agent;
}

test("the recovery sweep judges intents received but not judged, and queues their events", async () => {
  const agent = await offlineAgent("sweep-pi", { hubUrl: "http://127.0.0.1:9" }); // a hub that is away
  expect(agent.processor.receive(intentStream(5, { seed: 2, prefix: "stuck" }))).toBe(5);
  agent.recoverySweep();
  expect(agent.status()).toMatchObject({ verdicts_queued_through: 5 });
  expect(agent.outbox.stats().byKind.verdicts).toBe(5);
});

test("without any hub (simulation only) nothing is queued: the outbox cannot grow without bound", async () => {
  const agent = await offlineAgent("alone-pi");
  await agent.submit(intentStream(5, { seed: 3, prefix: "alone" }));
  expect(agent.status()).toMatchObject({ verdicts_queued_through: 5 });
  expect(agent.outbox.depth()).toBe(0);
});

test("compaction deletes verdicts older than the retention, never one not yet queued", async () => {
  const agent = await offlineAgent("compact-pi");
  const old = intentStream(10, { seed: 4, prefix: "old" }); // dated November 2025
  await agent.submit(old);
  expect(agent.compactJournal()).toBe(10);
  expect(agent.processor.verdictsAfter(0)).toEqual([]);
  // A compacted id is judged anew: the retention must outlast any retry.
  const [again] = await agent.submit([old[0]]);
  expect(again!.seq).toBe(11);

  // The kernel never deletes at or past the seq it is told to keep.
  await agent.submit(intentStream(10, { seed: 5, prefix: "older" }));
  expect(agent.processor.compact(Date.now(), 15)).toBe(4); // seqs 11 to 14
  expect(agent.processor.verdictsAfter(0)[0]!.seq).toBe(15);

  const fresh = await offlineAgent("compact-fresh-pi", { journalRetentionDays: 100_000 });
  await fresh.submit(intentStream(3, { seed: 4, prefix: "kept" }));
  expect(fresh.compactJournal()).toBe(0);
});

test("EDGEFED_OFFLINE_HOLD_AFTER_S: after that long without the hub every entry is held with OFFLINE; exits still pass", async () => {
  const agent = await offlineAgent("hold-pi", { hubUrl: "http://127.0.0.1:9", offlineHoldAfterS: 0.2 });
  const [early] = intentStream(1, { seed: 8, prefix: "early" });
  const [before] = await agent.submit([{ ...early!, ts: Date.now() }]);
  expect(before!.reasons).not.toContain("OFFLINE");
  await Bun.sleep(400);
  const [entry, exit] = intentStream(2, { seed: 8, prefix: "late" });
  const [held, exitVerdict] = await agent.submit([
    { ...entry!, ts: Date.now() },
    { ...exit!, ts: Date.now(), reduce_only: true },
  ]);
  expect(held).toMatchObject({ verdict: "HOLD", enforced: true });
  expect(held!.reasons[0]).toBe("OFFLINE");
  expect(exitVerdict).toMatchObject({ verdict: "PASS" });
  expect(agent.status()).toMatchObject({ offline_hold: true });
});

test("a journal holding a close dated in the future opens with a warning, and the symbol trades again after the cooldown from the start", async () => {
  const dataDir = tempDir();
  IntentProcessor.open(join(dataDir, JOURNAL_FILE), { config: { ...DEFAULT_CONFIG } }).close();
  const raw = openDatabase(join(dataDir, JOURNAL_FILE));
  raw.exec("INSERT INTO symbol_state (symbol, last_close_ts) VALUES ('DOGEUSDT', 4070908800000)"); // as a close on 2099-01-01 left it
  raw.close();
  const logs: string[] = [];
  const minHoldS = 30; // the default 300 s is beyond the 60 s an intent may be dated ahead
  const agent = await offlineAgent("poisoned-pi", { dataDir, gateConfig: { ...DEFAULT_CONFIG, MIN_HOLD_SECONDS: minHoldS }, log: (line) => logs.push(line) });
  const started = Date.now();
  expect(logs.join("\n")).toContain("WARNING: journal.sqlite held a close of DOGEUSDT dated 2099-01-01T00:00:00.000Z");
  const [template] = intentStream(1, { seed: 9, prefix: "doge" });
  const entry = { ...template!, symbol: "DOGEUSDT", side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND" } as const;
  const [during, after] = await agent.submit([
    { ...entry, id: "doge-during", ts: started },
    { ...entry, id: "doge-after", ts: started + minHoldS * 1000 },
  ]);
  expect(during!.reasons).toEqual(["COOLDOWN"]);
  expect(after).toMatchObject({ verdict: "PASS" });
});

test("healthy() (the watchdog's condition): true while both SQLite files answer, false once stopped", async () => {
  const agent = await offlineAgent("healthy-pi");
  expect(agent.healthy()).toBe(true);
  await agent.stop();
  expect(agent.healthy()).toBe(false);
});

test("a part that fails to start (the API's port taken) stops the parts started before it and closes both files, so the data dir can be used again", async () => {
  const dataDir = tempDir();
  const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  try {
    await expect(offlineAgent("blocked-pi", { dataDir, apiPort: taken.port ?? null })).rejects.toThrow(/port/i);
  } finally {
    await taken.stop(true);
  }
  const again = await offlineAgent("blocked-pi", { dataDir, apiPort: 0 });
  expect(again.healthy()).toBe(true);
  expect(again.apiPort).toBeGreaterThan(0);
});

test("a journal restored behind what was already queued continues its seqs after it, its unjudged intents included", async () => {
  const dataDir = tempDir();
  const first = await offlineAgent("restored-pi", { dataDir });
  await first.submit(intentStream(5, { seed: 4, prefix: "before" }));
  expect(first.status()).toMatchObject({ verdicts_queued_through: 5 });
  await first.stop();
  // As if restored from a backup taken after one verdict, with one intent received but not judged.
  for (const suffix of ["", "-wal", "-shm"]) rmSync(join(dataDir, `${JOURNAL_FILE}${suffix}`), { force: true });
  const backup = IntentProcessor.open(join(dataDir, JOURNAL_FILE), { config: { ...DEFAULT_CONFIG } });
  const [older, unjudged] = intentStream(2, { seed: 5, prefix: "backup" });
  backup.process([older]);
  backup.receive([unjudged]);
  backup.close();

  const logs: string[] = [];
  const again = await offlineAgent("restored-pi", { dataDir, log: (line) => logs.push(line) });
  expect(logs.join("\n")).toContain("ended at seq 1 but verdicts up to 5 were already queued for the hub: the journal was replaced or restored. New verdicts continue at seq 6");
  // The intent the backup left unjudged is judged at seq 6 and queued, not given a seq the hub already holds.
  expect(again.status()).toMatchObject({ verdicts_queued_through: 6 });
  const [verdict] = await again.submit(intentStream(1, { seed: 4, prefix: "after" }));
  expect(verdict).toMatchObject({ seq: 7 });
});
