// Research tasks on the node (research-tasks.ts): the capability, the
// handler table, and each handler on a real intent journal.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { configHash, DEFAULT_CONFIG } from "../kernel/config.ts";
import { IntentProcessor } from "../kernel/intent-processor.ts";
import { applyPolicyUpdate, DEFAULT_POLICY, effectiveConfig, type KernelPolicy } from "../kernel/policy.ts";
import type { JournaledVerdict } from "../kernel/types.ts";
import { MAX_ACK_RESULT_BYTES } from "../protocol/messages.ts";
import { cleanUp, closeLater, tempDir } from "../test/helpers.ts";
import { runResearchTask, type ResearchNode } from "./research-tasks.ts";

const NOW = 1_800_000_000_000;
const MINUTE = 60_000;
const RESEARCH = ["kernel", "research"];

afterEach(cleanUp);

function node(policy: KernelPolicy = { ...DEFAULT_POLICY }, version = 0): ResearchNode & { processor: IntentProcessor } {
  const processor = closeLater(IntentProcessor.open(join(tempDir(), "journal.sqlite"), { config: { ...DEFAULT_CONFIG }, clock: () => NOW }));
  return { processor, journal: processor, gateConfig: { ...DEFAULT_CONFIG }, policy: () => ({ policy, version }) };
}

const entry = (id: string, symbol: string, ts: number) => ({
  id,
  symbol,
  side: "BUY",
  qty: 1,
  price: 100,
  tp: 130,
  sl: 90,
  expected_move_usd: 5,
  model: "NHiTS",
  regime: "TREND",
  ts,
});

function tally(verdicts: JournaledVerdict[]): { total: number; truncated: boolean; by_verdict: Record<string, number>; by_reason: Record<string, number> } {
  const by_verdict: Record<string, number> = {};
  const by_reason: Record<string, number> = {};
  for (const v of verdicts) {
    by_verdict[v.verdict] = (by_verdict[v.verdict] ?? 0) + 1;
    for (const reason of v.reasons) by_reason[reason] = (by_reason[reason] ?? 0) + 1;
  }
  return { total: verdicts.length, truncated: false, by_verdict, by_reason };
}

describe("runResearchTask", () => {
  test("a node without the research capability refuses every task, saying why", () => {
    expect(runResearchTask({ task_type: "echo", description: "ping" }, ["kernel"], node(), NOW)).toEqual({
      ok: false,
      error: 'this node does not run research tasks (no "research" capability)',
    });
  });

  test("a task type without a handler is refused, naming the handlers there are", () => {
    expect(runResearchTask({ task_type: "backtest", description: "5 years" }, RESEARCH, node(), NOW)).toEqual({
      ok: false,
      error: "no handler for task_type backtest on this node (handlers: echo, journal_stats, config_hash)",
    });
    // Names that every object has are not handlers either.
    expect(runResearchTask({ task_type: "constructor", description: "x" }, RESEARCH, node(), NOW).ok).toBe(false);
  });

  test("echo says the task back", () => {
    expect(runResearchTask({ task_type: "echo", description: "ping", params: { n: 1 } }, RESEARCH, node(), NOW)).toEqual({
      ok: true,
      result: { task_type: "echo", description: "ping", params: { n: 1 } },
    });
  });

  test("journal_stats counts the verdicts of the window by verdict and reason, and none older", () => {
    const n = node();
    // Outside a 60-minute window: two hours ago.
    n.processor.process([entry("old-1", "ADAUSDT", NOW - 120 * MINUTE), entry("old-2", "XRPUSDT", NOW - 119 * MINUTE)]);
    const recent = n.processor.process([
      entry("new-1", "BTCUSDT", NOW - 30 * MINUTE),
      entry("new-2", "BTCUSDT", NOW - 29 * MINUTE), // the same symbol soon after: COOLDOWN
      { ...entry("new-3", "ETHUSDT", NOW - 60 * MINUTE + 1), qty: undefined }, // INVALID_INPUT:qty
      entry("new-4", "SOLUSDT", NOW - 60 * MINUTE), // on the window's edge: counted (inclusive)
    ]);
    const expected = tally(recent);
    expect(expected.total).toBe(4);
    expect(expected.by_reason).toMatchObject({ COOLDOWN: 1, "INVALID_INPUT:qty": 1 });
    const outcome = runResearchTask({ task_type: "journal_stats", description: "holds", params: { window_minutes: 60 } }, RESEARCH, n, NOW);
    expect(outcome).toEqual({ ok: true, result: { window_minutes: 60, since: new Date(NOW - 60 * MINUTE).toISOString(), ...expected } });
    // The default window is a day: everything.
    const day = runResearchTask({ task_type: "journal_stats", description: "holds" }, RESEARCH, n, NOW);
    expect(day.ok && day.result.total).toBe(6);
  });

  test("the journal's counts stop at their limit, the newest first, and say so", () => {
    const n = node();
    const verdicts = n.processor.process([0, 1, 2, 3, 4].map((i) => ({ ...entry(`c-${i}`, `S${i}USDT`, NOW - 10 * MINUTE + i), qty: i < 2 ? undefined : 1 })));
    expect(n.processor.verdictCounts(0, 3)).toEqual({ ...tally(verdicts.slice(2)), truncated: true });
    expect(n.processor.verdictCounts(0, 5)).toEqual(tally(verdicts));
  });

  test("journal_stats refuses a window it cannot take, naming the parameter", () => {
    for (const window_minutes of [0, 1.5, 7 * 24 * 60 + 1, "60"]) {
      expect(runResearchTask({ task_type: "journal_stats", description: "x", params: { window_minutes } }, RESEARCH, node(), NOW)).toEqual({
        ok: false,
        error: "journal_stats: params.window_minutes: a whole number of minutes from 1 to 10080",
      });
    }
    expect(runResearchTask({ task_type: "journal_stats", description: "x", params: { window_minutes: 10080 } }, RESEARCH, node(), NOW).ok).toBe(true);
  });

  test("config_hash gives the file's hash, the effective one with the hub's overrides, and the policy version", () => {
    const overridden = applyPolicyUpdate(DEFAULT_POLICY, { thresholds: { EDGE_MULTIPLIER: 4 } });
    if (!overridden.ok) throw new Error(overridden.violations.join("; "));
    const outcome = runResearchTask({ task_type: "config_hash", description: "drift" }, RESEARCH, node(overridden.policy, 12), NOW);
    expect(outcome).toEqual({
      ok: true,
      result: {
        kernel_config_hash: configHash(DEFAULT_CONFIG),
        effective_config_hash: configHash(effectiveConfig(DEFAULT_CONFIG, overridden.policy)),
        policy_version: 12,
      },
    });
    expect(outcome.ok && outcome.result.kernel_config_hash).not.toBe(outcome.ok && outcome.result.effective_config_hash);
  });

  test("a result too large for an ack, or a handler that throws, is refused with the reason", () => {
    const handlers = {
      huge: () => ({ pad: "p".repeat(MAX_ACK_RESULT_BYTES) }),
      broken: () => {
        throw new Error("disk gone");
      },
    };
    expect(runResearchTask({ task_type: "huge", description: "d" }, RESEARCH, node(), NOW, handlers)).toEqual({
      ok: false,
      error: `huge: result of ${MAX_ACK_RESULT_BYTES + 10} bytes exceeds ${MAX_ACK_RESULT_BYTES}`,
    });
    expect(runResearchTask({ task_type: "broken", description: "d" }, RESEARCH, node(), NOW, handlers)).toEqual({ ok: false, error: "broken: failed: disk gone" });
  });
});
