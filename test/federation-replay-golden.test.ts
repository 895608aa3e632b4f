// `npm run federation -- replay` gives byte for byte the output it gave when
// the golden was recorded (test/fixtures/replay-golden.json): every
// decision, conflict, alert, error line and the summary, over a generated
// stream of a small fleet's half day with bad lines, verdicts and events
// out of order mixed in, under three configs (every role advisory; a busy
// one with tight thresholds and mixed modes; roles held at a small hourly cap). It holds the replay's
// speed work to "no decision changes". The golden was recorded on the code
// before that work (commit 27fd591); to record it again after a change
// that is meant to change decisions: UPDATE_GOLDEN=1 bun test <this file>.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { faultyLines } from "./fixtures/federation-lines.ts";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";

afterAll(removeTempDirs);

const CLI = join(REPO_ROOT, "hub/federation/cli.ts");
const GOLDEN = join(import.meta.dir, "fixtures/replay-golden.json");

const CONFIGS: Record<string, string> = {
  advisory: ["supervisor", "risk_officer", "ess_guard", "capital_allocator", "strategy_allocator", "researcher"].map((role) => `  ${role}: {mode: advisory}`).join("\n"),
  busy: `
  supervisor:
    mode: active
    fleet_drawdown: {freeze_at_pct: 6, lift_below_pct: 4, min_hold_s: 300, recovery_s: 120}
    unhealthy_share: {freeze_at_share: 0.1, lift_below_share: 0.05, min_nodes: 3}
  risk_officer: {mode: active, min_interval_s: 30, drawdown: {method: max, recovery_s: 120, min_hold_s: 60}}
  ess_guard: {mode: active, thresholds: {lookback_s: 60, recovery_s: 300, min_hold_s: 300}}
  capital_allocator: {mode: advisory, profile: {method: latest, recovery_s: 300, min_hold_s: 300}, cashflow: {min_profit_usd: 20}}
  strategy_allocator: {mode: active, allocation: {lookback_s: 3600, min_trades: 0, min_change: 0.02, step: 0.01}}
  researcher:
    mode: active
    stale_model: {max_days_since_training: 10, lock_s: 3600}
    performance_decay: {lookback_s: 1800, baseline_s: 3600, decay_pct: 5, lock_s: 1800}
    symbol_guard: {stoploss_count: 3, min_trades: 4, lookback_s: 1800, lock_s: 900, universe: [BTCUSDT, ETHUSDT, SOLUSDT, XRPUSDT, DOGEUSDT, ADAUSDT]}`,
  capped: ["supervisor", "risk_officer", "ess_guard", "capital_allocator", "researcher"].map((role) => `  ${role}: {mode: active}`).join("\n") + "\n  strategy_allocator: {mode: off}",
};
const ENGINES: Record<string, string> = {
  busy: "engine: {evaluate_every_s: 15, min_interval_s: 120, max_decisions_per_hour: 45, conflict_window_s: 1800, conflict_alert_per_hour: 2, no_input_alert_s: 30}\n",
  capped: "engine: {max_decisions_per_hour: 8}\n",
};

interface Golden {
  sha256: string;
  lines: number;
  summary: unknown;
}

function replayOutput(name: string, input: string): Golden {
  const dir = tempDir();
  const config = join(dir, "federation.yaml");
  writeFileSync(config, `${ENGINES[name] ?? ""}roles:\n${CONFIGS[name]}\n`);
  const result = Bun.spawnSync([BUN, CLI, "replay", "--config", config], { stdin: Bun.file(input), stderr: "pipe" });
  expect({ code: result.exitCode, stderr: result.stderr.toString() }).toEqual({ code: 0, stderr: "" });
  const out = result.stdout.toString();
  const lines = out.trimEnd().split("\n");
  return { sha256: createHash("sha256").update(out).digest("hex"), lines: lines.length, summary: JSON.parse(lines.at(-1)!) };
}

describe("replay golden: the same stream and config give the same bytes", () => {
  const dir = tempDir();
  const input = join(dir, "events.jsonl");
  // 30 nodes for 12 h (about 300,000 lines, some 100 of them bad): shocks, freezes and recoveries happen.
  writeFileSync(input, `${[...faultyLines({ nodes: 30, durationS: 12 * 3600, seed: 5, faultEvery: 3000 })].join("\n")}\n`);
  const recorded: Record<string, Golden> = process.env.UPDATE_GOLDEN ? {} : JSON.parse(readFileSync(GOLDEN, "utf8"));

  for (const name of Object.keys(CONFIGS)) {
    test(name, () => {
      const output = replayOutput(name, input);
      if (process.env.UPDATE_GOLDEN) {
        recorded[name] = output;
        writeFileSync(GOLDEN, `${JSON.stringify(recorded, null, 2)}\n`);
        return;
      }
      // The summary first: when the bytes differ, it says roughly where.
      expect(output.summary).toEqual(recorded[name]!.summary);
      expect(output).toEqual(recorded[name]!);
    }, 60_000);
  }
});
