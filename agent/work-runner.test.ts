// The agent's work runner and kinds (work-runner.ts, work-kinds.ts) on real
// SQLite files: a kind the node does not know is refused with the list it
// does, a redelivered offer runs once, no more than the slots run at once,
// an agent that restarts mid-job reports it failed (or, for a resumable
// kind while its lease holds, runs it again under the same attempt), and gate.replay judges
// the journal's intents again without touching the journal.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import { IntentProcessor } from "../kernel/intent-processor.ts";
import { DEFAULT_POLICY } from "../kernel/policy.ts";
import type { WorkOfferMessage } from "../protocol/work-messages.ts";
import { cleanUp, closeLater, tempDir } from "../test/helpers.ts";
import { AgentStore } from "./agent-store.ts";
import { Outbox } from "./outbox.ts";
import { WORK_KIND_TABLE, type WorkKind, type WorkNode } from "./work-kinds.ts";
import { RESTARTED_MID_JOB, WorkRunner } from "./work-runner.ts";

afterEach(cleanUp);

const NOW = Date.now();

function setUp(dir = tempDir()) {
  const store = closeLater(AgentStore.open(dir));
  const journal = closeLater(IntentProcessor.open(join(dir, "journal.sqlite"), { config: { ...DEFAULT_CONFIG } }));
  const outbox = new Outbox(store.db, { maxMessages: 1000, log: () => {} });
  const node: WorkNode = {
    nodeId: "pi-1",
    capabilities: ["kernel"],
    dataDir: dir,
    journal,
    gateConfig: { ...DEFAULT_CONFIG },
    policy: () => ({ policy: DEFAULT_POLICY, version: 0 }),
    store: store.db,
    status: () => ({ mode: "LIVE" }),
    recentLog: () => ["a line"],
  };
  const runner = (kinds: Record<string, WorkKind> = { ...WORK_KIND_TABLE }, slots = 2) =>
    new WorkRunner({ nodeId: "pi-1", db: store.db, outbox, kick: () => {}, slots, node, kinds, log: () => {} });
  /** What the runner queued for the hub, as [kind, message]. */
  const sent = () => outbox.peek(100).map((m) => [m.kind, JSON.parse(m.payload)] as const);
  return { dir, store, journal, outbox, node, runner, sent };
}

function offer(id: string, kind: string, payload: Record<string, unknown> = {}, attempt = 1, lease_s = 60): Buffer {
  const message: WorkOfferMessage = { id, attempt, kind, payload, lease_s, deadline_at: null, ts: NOW };
  return Buffer.from(JSON.stringify(message));
}

const never: WorkKind = { run: () => new Promise(() => {}), resumable: false };

test("a kind the node does not know is refused with the kinds it runs", () => {
  const { runner, sent } = setUp();
  runner().offer(offer("wp_x", "backtest"));
  expect(sent()).toEqual([["work/result", expect.objectContaining({ id: "wp_x", attempt: 1, ok: false, error: "no handler for kind backtest on this node (kinds: diagnostics, gate.replay, research)" })]]);
});

test("a redelivered offer runs once; past its slots the runner refuses", () => {
  const { runner, sent } = setUp();
  const r = runner({ slow: never }, 1);
  r.offer(offer("wp_1", "slow"));
  r.offer(offer("wp_1", "slow"));
  r.offer(offer("wp_2", "slow"));
  expect(r.busy).toBe(1);
  expect(sent().map(([kind, m]) => [kind, m.id, m.ok ?? m.progress])).toEqual([
    ["work/progress", "wp_1", 0],
    ["work/result", "wp_2", false],
  ]);
  expect(sent()[1]![1].error).toBe("no free work slot (1 in use)");
  r.stop();
});

test("an agent that restarts mid-job reports the job failed, once", async () => {
  const { store, runner, sent } = setUp();
  const before = runner({ slow: never });
  before.start();
  before.offer(offer("wp_1", "slow"));
  before.stop();
  const after = runner({ slow: never });
  after.start();
  expect(sent().map(([kind, m]) => [kind, m.id, m.ok ?? m.progress, m.error])).toEqual([
    ["work/progress", "wp_1", 0, undefined],
    ["work/result", "wp_1", false, RESTARTED_MID_JOB],
  ]);
  runner({ slow: never }).start();
  expect(sent().length).toBe(2);
  expect(store.db.prepare("SELECT count(*) AS n FROM work_jobs WHERE finished_at IS NULL").get()).toEqual({ n: 0 });
});

/** A resumable kind whose first run never ends (the restart interrupts it) and whose later runs say how many runs there were. */
function interruptedOnce(): WorkKind {
  let runs = 0;
  return { resumable: true, run: () => (++runs === 1 ? new Promise(() => {}) : { runs }) };
}

test("after a restart a resumable kind runs again under the same attempt while its lease holds; a kind that is not resumable is reported failed", async () => {
  const { runner, sent } = setUp();
  const kinds = { probe: interruptedOnce(), slow: never };
  const before = runner(kinds);
  before.start();
  before.offer(offer("wp_r", "probe"));
  before.offer(offer("wp_s", "slow"));
  before.stop();
  const after = runner(kinds);
  after.start();
  await new Promise((resolve) => setImmediate(resolve));
  const of = (id: string) => sent().filter(([, m]) => m.id === id).map(([kind, m]) => [kind, m.attempt, m.ok ?? m.progress, m.result ?? m.error]);
  expect(of("wp_r")).toEqual([
    ["work/progress", 1, 0, undefined],
    ["work/progress", 1, 0, undefined], // resumed: the lease renewed at once
    ["work/result", 1, true, { runs: 2 }],
  ]);
  expect(of("wp_s")).toEqual([
    ["work/progress", 1, 0, undefined],
    ["work/result", 1, false, RESTARTED_MID_JOB],
  ]);
  expect(after.busy).toBe(0);
});

test("a resumable job whose lease ran out while the agent was down is reported failed, not run again", () => {
  const { store, runner, sent } = setUp();
  const kinds = { probe: interruptedOnce() };
  const before = runner(kinds);
  before.start();
  before.offer(offer("wp_r", "probe", {}, 1, 5));
  before.stop();
  store.db.prepare("UPDATE work_jobs SET renewed_at = renewed_at - 5000").run(); // the last renewal was a whole lease ago
  const after = runner(kinds);
  after.start();
  expect(after.busy).toBe(0);
  expect(sent().map(([kind, m]) => [kind, m.ok ?? m.progress, m.error])).toEqual([
    ["work/progress", 0, undefined],
    ["work/result", false, RESTARTED_MID_JOB],
  ]);
});

test("a kind's result is queued once it returns; a bad payload fails with the kind's message", async () => {
  const { runner, sent } = setUp();
  const r = runner();
  r.offer(offer("wp_diag", "diagnostics"));
  r.offer(offer("wp_bad", "gate.replay", { from: 10 }));
  await new Promise((resolve) => setImmediate(resolve));
  const results = Object.fromEntries(sent().filter(([kind]) => kind === "work/result").map(([, m]) => [m.id, m]));
  expect(results.wp_diag).toMatchObject({ ok: true, result: { node_id: "pi-1", integrity: { agent_store: "ok", journal: "ok" }, log: ["a line"] } });
  expect(results.wp_bad).toMatchObject({ ok: false, error: "gate.replay: payload.from and payload.to: ms since the epoch, from before to" });
});

test("gate.replay judges the journal's intents in the range again under the candidate and leaves the journal as it was", () => {
  const { journal, node } = setUp();
  const entry = { side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND" };
  journal.process([
    { ...entry, id: "r-1", symbol: "BTCUSDT", ts: NOW - 3000 },
    { ...entry, id: "r-2", symbol: "ETHUSDT", ts: NOW - 2000 },
    { ...entry, id: "r-out", symbol: "SOLUSDT", ts: NOW - 60_000 },
  ]);
  const lastSeq = journal.lastSeq();
  const result = WORK_KIND_TABLE["gate.replay"]!.run({ from: NOW - 10_000, to: NOW, config: { MIN_R_TREND: 3.5 } }, node, { offeredAt: NOW, now: NOW }) as Record<string, unknown>;
  expect(result).toMatchObject({ intents: 2, truncated: false, by_verdict: { HOLD: 2 }, changed: 2, changes: { "PASS->HOLD": 2 } });
  expect(journal.lastSeq()).toBe(lastSeq);
  expect(journal.verdictCounts(0, 100).by_verdict).toEqual({ PASS: 3 });
  expect(() => WORK_KIND_TABLE["gate.replay"]!.run({ from: 0, to: NOW, config: { MIN_R: 1 } }, node, { offeredAt: NOW, now: NOW })).toThrow("payload.config: MIN_R: unknown gate variable");
});
