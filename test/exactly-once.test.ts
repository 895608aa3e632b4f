// Exactly-once across real process deaths: child processes are killed with
// SIGKILL mid-stream, restarted, and their journals compared with runs that
// were never interrupted. Nothing acknowledged may be lost, nothing judged twice.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import { IntentProcessor } from "../kernel/intent-processor.ts";
import { intentStream, STREAM_START_TS } from "./fixtures/intents.ts";
import { BUN, killAfterLines, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";

afterAll(removeTempDirs);

const GATE_CLI = join(REPO_ROOT, "kernel/gate-cli.ts");
const CHILD = join(REPO_ROOT, "test/fixtures/processor-child.ts");

function journal(path: string): { seq: number; intent_id: string; verdict: string }[] {
  const db = new Database(path, { readonly: true });
  const rows = db.query("SELECT seq, intent_id, verdict FROM verdicts ORDER BY seq").all() as {
    seq: number;
    intent_id: string;
    verdict: string;
  }[];
  db.close();
  return rows;
}

function runGate(args: string[], input: string): string[] {
  const result = Bun.spawnSync([BUN, GATE_CLI, ...args], { stdin: new TextEncoder().encode(input), stderr: "pipe" });
  expect(result.exitCode).toBe(0);
  return result.stdout.toString().split("\n").slice(0, -1);
}

describe("exactly-once across kill -9", () => {
  test("gate --db: killed mid-stream and run again, every line is judged once and matches an uninterrupted run", async () => {
    const dir = tempDir();
    const lines: string[] = [];
    intentStream(30_000).forEach((intent, n) => {
      lines.push(JSON.stringify(intent));
      if (n % 97 === 0) lines.push(JSON.stringify({ type: "close", symbol: intent.symbol, ts: intent.ts + 1 }));
    });
    const input = lines.join("\n") + "\n";
    const reference = runGate(["--db", join(dir, "reference.db")], input);
    expect(reference.length).toBe(lines.length);

    const crashedDb = join(dir, "crashed.db");
    const proc = Bun.spawn([BUN, GATE_CLI, "--db", crashedDb], { stdin: "pipe", stdout: "pipe", stderr: "ignore" });
    const writing = (async () => {
      try {
        for (let i = 0; i < input.length; i += 16_384) {
          // Awaited: under backpressure write() returns a promise, which rejects (EPIPE) once the child is killed.
          await proc.stdin.write(input.slice(i, i + 16_384));
          await proc.stdin.flush();
        }
        await proc.stdin.end();
      } catch {
        // the child was killed while we were still writing: expected
      }
    })();
    const beforeKill = (await killAfterLines(proc, 3_000)).lines;
    await writing;
    expect(beforeKill.length).toBeGreaterThanOrEqual(3_000);
    expect(beforeKill.length).toBeLessThan(lines.length); // really mid-stream
    expect(beforeKill).toEqual(reference.slice(0, beforeKill.length));

    const resumed = runGate(["--db", crashedDb], input);
    expect(resumed).toEqual(reference);
    const rows = journal(crashedDb);
    expect(rows.length).toBe(30_000);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, n) => n + 1));
    expect(rows).toEqual(journal(join(dir, "reference.db")));
  });

  test("intents received but not judged when the process died are judged exactly once at restart", async () => {
    const dir = tempDir();
    const path = join(dir, "j.db");
    const proc = Bun.spawn([BUN, CHILD, "receive", path, "400"], { stdout: "pipe", stderr: "inherit" });
    expect((await killAfterLines(proc, 1)).lines).toEqual(["received"]);
    expect(journal(path)).toEqual([]);

    const recovered = IntentProcessor.open(path, { config: DEFAULT_CONFIG });
    expect(recovered.counters.recovered).toBe(400);
    recovered.close();
    const reference = IntentProcessor.open(join(dir, "reference.db"), { config: DEFAULT_CONFIG });
    reference.process(intentStream(400));
    reference.close();
    expect(journal(path)).toEqual(journal(join(dir, "reference.db")));
    // A second restart finds nothing left to recover.
    const again = IntentProcessor.open(path, { config: DEFAULT_CONFIG });
    expect(again.counters.recovered).toBe(0);
    again.close();
  });

  test("a burst of concurrent submits killed mid-way keeps every acknowledged verdict, and resumes identically", async () => {
    const dir = tempDir();
    const path = join(dir, "j.db");
    const count = 20_000;
    const proc = Bun.spawn([BUN, CHILD, "submit", path, String(count)], { stdout: "pipe", stderr: "inherit" });
    const acknowledged = (await killAfterLines(proc, 4_000)).lines.map((line) => JSON.parse(line));
    expect(acknowledged.length).toBeLessThan(count);

    const rows = journal(path);
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    for (const verdict of acknowledged) {
      const { seq, ...body } = verdict;
      expect(bySeq.get(seq)?.intent_id).toBe(verdict.id);
      expect(JSON.parse(bySeq.get(seq)!.verdict)).toEqual(body);
    }
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, n) => n + 1));

    const intents = intentStream(count);
    const resumed = IntentProcessor.open(path, { config: DEFAULT_CONFIG });
    resumed.process(intents);
    expect(resumed.counters.duplicates).toBe(rows.length);
    resumed.close();
    const reference = IntentProcessor.open(join(dir, "reference.db"), { config: DEFAULT_CONFIG });
    reference.process(intents);
    reference.close();
    expect(journal(path)).toEqual(journal(join(dir, "reference.db")));
  });
});

describe("gate command", () => {
  test("one output line per input line: verdicts, close acks and errors in place; the run goes on", () => {
    const dir = tempDir();
    const config = join(dir, "core_gates.env");
    writeFileSync(config, "MIN_NOTIONAL_USD=50\n");
    const [a, b] = intentStream(2, { seed: 3 });
    const ts = STREAM_START_TS;
    const out = runGate(
      ["--config", config],
      [
        JSON.stringify({ ...a, side: "BUY", qty: 0.4, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts }),
        JSON.stringify({ type: "close", symbol: "ETHUSDT", ts }),
        "{not json",
        "",
        "[1,2]",
        JSON.stringify({ type: "fill", symbol: "X" }),
        JSON.stringify({ type: "close", symbol: "ETHUSDT" }),
        JSON.stringify({ ...b, side: "BUY", symbol: "ETHUSDT", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts: ts + 1000 }),
      ].join("\n"),
    ).map((line) => JSON.parse(line));
    expect(out).toEqual([
      expect.objectContaining({ id: a!.id, verdict: "HOLD", reasons: ["MIN_NOTIONAL"] }), // 40 < 50 from the file
      { type: "close_ack", symbol: "ETHUSDT", ts },
      expect.objectContaining({ error: "invalid_json", line: 3 }),
      { error: "invalid_line", line: 5, detail: "expected a JSON object" },
      { error: "invalid_line", line: 6, detail: 'unknown type "fill"' },
      expect.objectContaining({ error: "invalid_close", line: 7 }),
      expect.objectContaining({ id: b!.id, verdict: "HOLD", reasons: ["COOLDOWN"] }), // 1 s after the close
    ]);
  });

  test("a close dated in the future is refused on its line (FUTURE_CLOSE), and the run goes on without it", () => {
    const dbPath = join(tempDir(), "journal.db");
    const [a] = intentStream(1, { seed: 5 });
    const out = runGate(
      ["--db", dbPath],
      [
        JSON.stringify({ type: "close", symbol: "DOGEUSDT", ts: 4_070_908_800_000 }),
        JSON.stringify({ ...a, symbol: "DOGEUSDT", side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts: Date.now() }),
      ].join("\n"),
    ).map((line) => JSON.parse(line));
    expect(out[0]).toEqual({ error: "invalid_close", line: 1, detail: expect.stringMatching(/^FUTURE_CLOSE: ts 4070908800000 \(2099-01-01T00:00:00.000Z\) is more than 60 s ahead/) });
    expect(out[1]).toMatchObject({ id: a!.id, verdict: "PASS" }); // not held by the refused close
  });

  test("a bad config stops it before reading input, naming key, file and line", () => {
    const dir = tempDir();
    const config = join(dir, "core_gates.env");
    writeFileSync(config, "# gates\nMIN_NOTIONAL_USD=25\nEDGE_MULTIPLER=3\n");
    const result = Bun.spawnSync([BUN, GATE_CLI, "--config", config], { stdin: new TextEncoder().encode("{}\n"), stderr: "pipe" });
    expect(result.exitCode).toBe(2);
    expect(result.stdout.toString()).toBe("");
    expect(result.stderr.toString()).toContain(`${config}:3: EDGE_MULTIPLER: unknown gate variable (did you mean EDGE_MULTIPLIER?)`);
  });
});
