import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import { intentStream } from "../test/fixtures/intents.ts";
import { DEFAULT_CONFIG } from "./config.ts";
import { CloseRefusedError, IntentProcessor } from "./intent-processor.ts";
import { openDatabase } from "../lib/sqlite.ts";
import { DEFAULT_POLICY, applyPolicyUpdate } from "./policy.ts";
import type { Intent } from "./types.ts";

afterAll(removeTempDirs);

const T0 = 1_764_000_000_000;
/** A BUY that passes every gate on its own (R = 2.5, notional 100, ample edge). */
function passing(id: string, symbol: string, ts: number): Intent {
  return { id, symbol, side: "BUY", qty: 1, price: 100, tp: 125, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts };
}
function openAt(path: string) {
  return IntentProcessor.open(path, { config: DEFAULT_CONFIG });
}

describe("IntentProcessor", () => {
  test("a version-1 journal is upgraded in place: its verdicts are kept, without a judging time; new ones have it", () => {
    const path = join(tempDir(), "v1.db");
    const v1 = openDatabase(path);
    v1.exec(`
      CREATE TABLE receipts (rowid INTEGER PRIMARY KEY, intent_id TEXT NOT NULL UNIQUE, intent TEXT NOT NULL, received_at INTEGER NOT NULL);
      CREATE TABLE verdicts (seq INTEGER PRIMARY KEY AUTOINCREMENT, intent_id TEXT NOT NULL UNIQUE, symbol TEXT NOT NULL, ts INTEGER NOT NULL,
        counts_as_trade INTEGER NOT NULL, intent TEXT NOT NULL, verdict TEXT NOT NULL);
      CREATE INDEX verdicts_trades ON verdicts(ts) WHERE counts_as_trade = 1;
      CREATE TABLE symbol_state (symbol TEXT PRIMARY KEY, last_trade_ts INTEGER, last_close_ts INTEGER);
      PRAGMA user_version = 1;
    `);
    const old = { id: "old", verdict: "HOLD", reasons: ["COOLDOWN"], enforced: true, mode: "LIVE", metrics: { notional: 100, friction_usd: 0.22, required_edge_usd: 0.66, r_ratio: 2 } };
    v1.prepare("INSERT INTO verdicts (intent_id, symbol, ts, counts_as_trade, intent, verdict) VALUES ('old', 'S1', ?, 0, '{}', ?)").run(T0, JSON.stringify(old));
    v1.close();
    const p = IntentProcessor.open(path, { config: DEFAULT_CONFIG, clock: () => T0 + 5_000 });
    p.process([passing("new", "S2", T0 + 1_000)]);
    expect(p.verdictsAfter(0).map((v) => [v.id, v.seq, v.judgedAt])).toEqual([
      ["old", 1, null],
      ["new", 2, T0 + 5_000],
    ]);
    p.close();
  });

  test("seqFloor: a journal behind it continues after it, before it judges what was left unjudged; one past it is left alone", () => {
    const path = join(tempDir(), "restored.db");
    const backup = openAt(path);
    backup.process([passing("r1", "S1", T0)]);
    backup.receive([passing("r2", "S2", T0 + 1000)]); // received, not judged: a crash
    backup.close();
    const restored = IntentProcessor.open(path, { config: DEFAULT_CONFIG, seqFloor: 40 });
    expect(restored.behind).toEqual({ lastSeq: 1, continuedAfter: 40 });
    expect(restored.verdictsAfter(1).map((v) => [v.id, v.seq])).toEqual([["r2", 41]]);
    expect(restored.process([passing("r3", "S3", T0 + 2000)])[0]).toMatchObject({ seq: 42 });
    restored.close();
    const ahead = IntentProcessor.open(path, { config: DEFAULT_CONFIG, seqFloor: 10 });
    expect(ahead.behind).toBeNull();
    expect(ahead.process([passing("r4", "S4", T0 + 3000)])[0]).toMatchObject({ seq: 43 });
    ahead.close();
  });

  test("the same id gives the stored verdict and never counts twice toward the rate window", () => {
    const p = openAt(join(tempDir(), "j.db"));
    const first = p.process([passing("a", "S1", T0)])[0]!;
    expect(first).toMatchObject({ id: "a", verdict: "PASS", seq: 1 });
    // Replayed three times, once within its own batch.
    const again = p.process([passing("a", "S1", T0), passing("a", "S1", T0 + 1)]);
    expect(again).toEqual([first, first]);
    expect(p.process([passing("a", "S1", T0)])[0]).toEqual(first);
    // Had the replays counted, the window (max 3) would be full already.
    const rest = p.process([passing("b", "S2", T0 + 1000), passing("c", "S3", T0 + 2000), passing("d", "S4", T0 + 3000)]);
    expect(rest.map((v) => [v.verdict, v.reasons, v.seq])).toEqual([
      ["PASS", [], 2],
      ["PASS", [], 3],
      ["HOLD", ["RATE_LIMIT"], 4],
    ]);
    expect(p.counters).toEqual({ evaluated: 4, passed: 3, held: 1, duplicates: 3, recovered: 0 });
    p.close();
  });

  test("cooldown and rate window survive a reopen; seq continues", () => {
    const path = join(tempDir(), "j.db");
    let p = openAt(path);
    p.process([passing("a", "S1", T0), passing("b", "S2", T0 + 1000)]);
    p.recordClose({ type: "close", symbol: "S3", ts: T0 + 2000 });
    p.close();

    p = openAt(path);
    const after = p.process([
      passing("c", "S1", T0 + 60_000), // S1 traded 60 s ago: cooldown
      passing("d", "S3", T0 + 61_000), // S3 closed 59 s ago: cooldown
      passing("e", "S4", T0 + 62_000), // third trade in the window: passes
      passing("f", "S5", T0 + 63_000), // fourth: rate limit
      passing("g", "S1", T0 + 300_000), // S1 exactly 300 s after its trade, but the window is full
    ]);
    expect(after.map((v) => [v.id, v.reasons, v.seq])).toEqual([
      ["c", ["COOLDOWN"], 3],
      ["d", ["COOLDOWN"], 4],
      ["e", [], 5],
      ["f", ["RATE_LIMIT"], 6],
      ["g", ["RATE_LIMIT"], 7],
    ]);
    // Once the first trade leaves the window, S1's exactly-at-600 s intent passes.
    expect(p.process([passing("h", "S1", T0 + 600_000)])[0]!.verdict).toBe("PASS");
    p.close();
  });

  test("received intents are evaluated exactly once, at the next open if the process stopped before", () => {
    const path = join(tempDir(), "j.db");
    const intents = intentStream(50);
    let p = openAt(path);
    expect(p.receive(intents)).toBe(50);
    expect(p.receive(intents.slice(0, 10))).toBe(0); // already pending
    p.close(); // as if the process died before evaluating

    p = openAt(path);
    expect(p.counters.recovered).toBe(50);
    expect(p.verdictsAfter(0, 100).map((v) => v.id)).toEqual(intents.map((i) => i.id));
    expect(p.receive(intents.slice(0, 10))).toBe(0); // judged already
    expect(p.evaluatePending()).toEqual([]);
    p.close();
    expect(openAt(path).counters.recovered).toBe(0);
  });

  test("process() judges earlier receipts first, keeping receipt order in the journal", () => {
    const p = openAt(join(tempDir(), "j.db"));
    p.receive([passing("r1", "S1", T0)]);
    const [v] = p.process([passing("n1", "S2", T0 + 1)]);
    expect(v!.seq).toBe(2);
    expect(p.verdictsAfter(0).map((x) => x.id)).toEqual(["r1", "n1"]);
    p.close();
  });

  test("concurrent submits are group-committed and resolve in submission order with increasing seq", async () => {
    const p = openAt(join(tempDir(), "j.db"));
    const intents = intentStream(500);
    const verdicts = await Promise.all(intents.map((i) => p.submit(i)));
    expect(verdicts.map((v) => v.id)).toEqual(intents.map((i) => i.id));
    expect(verdicts.map((v) => v.seq)).toEqual(intents.map((_, n) => n + 1));
    expect(await p.submit(intents[7])).toEqual(verdicts[7]!);
    p.close();
  });

  test("an intent without a usable id is held and not journaled", () => {
    const p = openAt(join(tempDir(), "j.db"));
    const [v] = p.process([{ ...passing("x", "S1", T0), id: "" }]);
    expect(v).toMatchObject({ id: null, verdict: "HOLD", reasons: ["INVALID_INPUT:id"], seq: null });
    expect(p.verdictsAfter(0)).toEqual([]);
    // Invalid intents with an id are journaled like any other, so a replay is answered the same.
    const [bad] = p.process([{ ...passing("y", "S1", T0), qty: -1 }]);
    expect(bad).toMatchObject({ id: "y", reasons: ["INVALID_INPUT:qty"], seq: 1 });
    p.close();
  });

  test("a policy change applies to new intents only; stored verdicts keep theirs", () => {
    const p = openAt(join(tempDir(), "j.db"));
    const before = p.process([passing("a", "S1", T0)])[0]!;
    const paused = applyPolicyUpdate(DEFAULT_POLICY, { mode: "PAUSED" });
    if (!paused.ok) throw new Error(paused.violations.join());
    p.setPolicy(paused.policy);
    expect(p.process([passing("a", "S1", T0)])[0]).toEqual(before);
    expect(p.process([passing("b", "S2", T0 + 1)])[0]).toMatchObject({ verdict: "HOLD", mode: "PAUSED", reasons: ["MODE_PAUSED"] });
    p.close();
  });

  test("the journal file is created owner-only in WAL mode", () => {
    const path = join(tempDir(), "j.db");
    const p = openAt(path);
    p.process([passing("a", "S1", T0)]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path + "-wal").mode & 0o777).toBe(0o600);
    p.close();
  });

  test("a journal from a newer schema is refused rather than misread", async () => {
    const path = join(tempDir(), "j.db");
    openAt(path).close();
    const { Database } = await import("bun:sqlite");
    const raw = new Database(path);
    raw.exec("PRAGMA user_version = 99");
    raw.close();
    expect(() => openAt(path)).toThrow(/schema 99 is newer/);
  });
});

describe("IntentProcessor input the gates alone cannot judge", () => {
  test("an intent dated more than 60 s ahead of the clock is held and never counted", () => {
    const p = IntentProcessor.open(join(tempDir(), "j.db"), { config: DEFAULT_CONFIG, clock: () => T0 });
    const [future, edge] = p.process([passing("f", "S1", T0 + 3_600_000), passing("e", "S2", T0 + 60_000)]);
    expect(future).toMatchObject({ verdict: "HOLD", reasons: ["FUTURE_INTENT"] });
    expect(edge!.verdict).toBe("PASS"); // exactly 60 s ahead is tolerated
    // Had the future trade counted, this on-time intent would be STALE_INTENT.
    expect(p.process([passing("n", "S3", T0)])[0]!.verdict).toBe("PASS");
    p.close();
  });

  test("an intent JSON cannot hold is answered alone; the rest of its batch commits", async () => {
    const p = openAt(join(tempDir(), "j.db"));
    const [bad, good] = await Promise.all([p.submit({ ...passing("b", "S1", T0), qty: 1n }), p.submit(passing("g", "S2", T0))]);
    expect(bad).toMatchObject({ id: "b", verdict: "HOLD", reasons: ["INVALID_INPUT:intent"], seq: null });
    expect(good).toMatchObject({ id: "g", verdict: "PASS", seq: 1 });
    p.close();
  });

  test("receive() then evaluatePending() judges like process(): a non-JSON number stays invalid", () => {
    const limited = applyPolicyUpdate(DEFAULT_POLICY, { max_leverage: 5 });
    if (!limited.ok) throw new Error(limited.violations.join());
    const direct = IntentProcessor.open(join(tempDir(), "a.db"), { config: DEFAULT_CONFIG, policy: limited.policy });
    const viaReceipt = IntentProcessor.open(join(tempDir(), "b.db"), { config: DEFAULT_CONFIG, policy: limited.policy });
    const intent = { ...passing("x", "S1", T0), leverage: Infinity };
    viaReceipt.receive([intent]);
    expect(viaReceipt.evaluatePending()[0]!.reasons).toEqual(["INVALID_INPUT:leverage"]);
    expect(direct.process([intent])[0]!.reasons).toEqual(["INVALID_INPUT:leverage"]);
    direct.close();
    viaReceipt.close();
  });

  test("an unusable close is refused and changes nothing", () => {
    const p = openAt(join(tempDir(), "j.db"));
    for (const close of [{ symbol: undefined, ts: T0 }, { symbol: "S1", ts: Number.NaN }, { symbol: "S1", ts: 1_764_000_000 }]) {
      expect(() => p.recordClose({ type: "close", ...close } as never)).toThrow(TypeError);
    }
    expect(p.process([passing("a", "S1", T0)])[0]!.verdict).toBe("PASS");
    p.close();
  });
});

describe("closes dated in the future (FUTURE_CLOSE)", () => {
  const YEAR_2099 = 4_070_908_800_000;

  test("a close more than 60 s ahead of the clock is refused, alone or in a batch, and nothing of it is recorded", () => {
    const path = join(tempDir(), "j.db");
    const p = IntentProcessor.open(path, { config: DEFAULT_CONFIG, clock: () => T0 });
    expect(() => p.recordClose({ type: "close", symbol: "DOGEUSDT", ts: YEAR_2099 })).toThrow(
      /^FUTURE_CLOSE: ts 4070908800000 \(2099-01-01T00:00:00.000Z\) is more than 60 s ahead of this clock/,
    );
    let refused: unknown;
    try {
      p.recordCloses([
        { type: "close", symbol: "S1", ts: T0 - 1000 },
        { type: "close", symbol: "S2", ts: T0 + 60_001 },
      ]);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(CloseRefusedError);
    expect(refused).toMatchObject({ index: 1, message: expect.stringMatching(/^FUTURE_CLOSE: ts /) });
    p.close();
    // Nothing was recorded, not even the good close of the refused batch: every symbol trades, also after a reopen.
    const again = IntentProcessor.open(path, { config: DEFAULT_CONFIG, clock: () => T0 });
    expect(again.process([passing("d", "DOGEUSDT", T0), passing("s", "S1", T0 + 1)]).map((v) => v.verdict)).toEqual(["PASS", "PASS"]);
    again.recordClose({ type: "close", symbol: "S3", ts: T0 + 60_000 }); // within the allowance, as for intents
    expect(again.process([passing("s3", "S3", T0 + 60_000)])[0]!.reasons).toEqual(["COOLDOWN"]); // recorded: its cooldown runs
    again.close();
  });

  test("a journal already holding one opens with it moved to now: the symbol trades again after the normal cooldown", () => {
    const path = join(tempDir(), "poisoned.db");
    openAt(path).close();
    const raw = openDatabase(path);
    raw.exec(`INSERT INTO symbol_state (symbol, last_close_ts) VALUES ('DOGEUSDT', ${YEAR_2099}), ('S1', ${T0 - 10_000})`);
    raw.close();

    let now = T0;
    const p = IntentProcessor.open(path, { config: DEFAULT_CONFIG, clock: () => now });
    expect(p.clampedCloses).toEqual([{ symbol: "DOGEUSDT", was: YEAR_2099, now: T0 }]);
    const [during, other] = p.process([
      passing("d1", "DOGEUSDT", T0 + 1000),
      passing("s1", "S1", T0 + 1000), // a close in the past is left as it was
    ]);
    expect(during!.reasons).toEqual(["COOLDOWN"]);
    expect(other!.reasons).toEqual(["COOLDOWN"]);
    now = T0 + DEFAULT_CONFIG.MIN_HOLD_SECONDS * 1000;
    expect(p.process([passing("d2", "DOGEUSDT", now)])[0]!.verdict).toBe("PASS");
    p.close();
    const reopened = IntentProcessor.open(path, { config: DEFAULT_CONFIG, clock: () => T0 + 1 });
    expect(reopened.clampedCloses).toEqual([]); // mended on disk, said once
    reopened.close();
  });
});

describe("one processor per journal", () => {
  test("a second open of a journal in use is refused; after close it opens", () => {
    const path = join(tempDir(), "j.db");
    const first = openAt(path);
    expect(() => openAt(path)).toThrow(/is in use by process \d+ .*one intent processor per journal/);
    first.close();
    openAt(path).close();
  });

  test("a lock left by a dead process, or written before a reboot, is taken over", () => {
    const path = join(tempDir(), "j.db");
    const dead = Bun.spawnSync(["true"]).pid; // exited already
    writeFileSync(`${path}.lock`, `${dead} ${readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()}`);
    openAt(path).close();
    writeFileSync(`${path}.lock`, `${process.pid} another-boot`);
    openAt(path).close();
  });
});
