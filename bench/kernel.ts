// bun run bench kernel
// (a) pure gate evaluation on one core, verdicts/s: under the default policy,
//     and with every account limit on (issue 11) against an account in ESS
//     CAUTION, so every check runs;
// (b) durable exactly-once processing through the intent processor
//     (submit() with 48 intents in flight, synchronous=FULL, WAL checkpoints
//     on a worker thread), intents/s and per-intent p50/p99 latency from
//     submit to committed verdict; for comparison also with SQLite's own
//     checkpoints on the writer's thread.
// limit = raw batched inserts of the same journal rows, same pragmas, same
// batch size, in the same run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Account, type AccountView } from "../kernel/account.ts";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import { compileContext, evaluate, type GateContext } from "../kernel/gates.ts";
import { IntentProcessor } from "../kernel/intent-processor.ts";
import { applyPolicyUpdate, DEFAULT_POLICY, type KernelPolicy } from "../kernel/policy.ts";
import { portfolio } from "../test/fixtures/portfolio.ts";
import { openDatabase } from "../lib/sqlite.ts";
import { TradeWindow } from "../kernel/trade-window.ts";
import { intentStream } from "../test/fixtures/intents.ts";
import { percentile, printResult, printTable } from "./report.ts";

const dir = mkdtempSync(join(tmpdir(), "edgefed-bench-"));
const intents = intentStream(100_000, { seed: 42 });
// Strategy requests in flight at once; IN_FLIGHT=n to measure another load.
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 48);

/** Every account limit on, with a capital profile, a cashflow model, weights and the stop multiplier. */
function everyLimit(): KernelPolicy {
  const result = applyPolicyUpdate(DEFAULT_POLICY, {
    max_leverage: 5,
    max_notional_usd: 400,
    model_weights: { NHiTS: 0.5, PatchTST: 1, XGBoost: 0.8 },
    capital: { profile: "MEDIUM", max_positions: 8 },
    max_drawdown_pct: 20,
    max_exposure_pct: 300,
    stop_loss_multiplier: 1.2,
    ess: { caution_threshold_pct: 5, warning_threshold_pct: 10, critical_threshold_pct: 15 },
    cashflow: { profit_lock_pct: 30, reinvest_pct: 70, reserve_buffer_pct: 10 },
  });
  if (!result.ok) throw new Error(result.violations.join("; "));
  return result.policy;
}

/** An account in CAUTION (drawdown 6%): every sizing check runs, halved. */
function cautiousAccount(): AccountView {
  const account = new Account();
  account.addCashflowProfit(500);
  account.recordSnapshot(portfolio({ ts: intents[0]!.ts, drawdown_pct: 6, num_positions: 2, total_exposure_usd: 3000, realized_pnl_today: -40 }));
  account.recordEntry("BTCUSDT", 200, 5);
  account.ess = "CAUTION";
  return account;
}

// (a) Pure evaluation against a window holding recent history.
function gateThroughput(ctx: GateContext, account?: AccountView): number {
  const window = new TradeWindow();
  for (const intent of intents.slice(0, 20)) window.recordTrade(intent.symbol, intent.ts);
  let sink = 0;
  const rounds = 20; // 2,000,000 evaluations, after one warm-up round
  for (const intent of intents) sink += evaluate(intent, ctx, window, undefined, account).reasons.length;
  const start = performance.now();
  for (let r = 0; r < rounds; r++) for (const intent of intents) sink += evaluate(intent, ctx, window, undefined, account).reasons.length;
  const seconds = (performance.now() - start) / 1000;
  if (sink < 0) console.log(sink);
  return (rounds * intents.length) / seconds;
}

// (b) Durable processing: concurrent submitters, each awaiting its verdict.
async function processorRun(backgroundCheckpoints: boolean, limits = false): Promise<{ rate: number; p50: number; p99: number }> {
  const processor = IntentProcessor.open(join(dir, `journal-${backgroundCheckpoints}-${limits}.db`), {
    config: DEFAULT_CONFIG,
    policy: limits ? everyLimit() : DEFAULT_POLICY,
  });
  if (limits) processor.recordPortfolio(portfolio({ ts: intents[0]!.ts, drawdown_pct: 6, total_exposure_usd: 3000 }));
  if (backgroundCheckpoints && !(await processor.startBackgroundCheckpoints())) throw new Error("background checkpoints did not start");
  const latencies = new Float64Array(intents.length);
  let next = 0;
  const worker = async () => {
    while (next < intents.length) {
      const n = next++;
      const start = performance.now();
      await processor.submit(intents[n]);
      latencies[n] = performance.now() - start;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - start) / 1000;
  const maxSeq = processor.verdictsAfter(intents.length - 1, 1)[0]?.seq;
  if (maxSeq !== intents.length) throw new Error(`journal holds ${maxSeq} verdicts, expected ${intents.length}`);
  processor.close();
  latencies.sort();
  return { rate: intents.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

// limit: the same rows inserted raw in batches of the same size, same pragmas.
function rawInsertRate(batchSize: number): number {
  const db = openDatabase(join(dir, "raw.db"));
  db.exec(`CREATE TABLE verdicts (seq INTEGER PRIMARY KEY AUTOINCREMENT, intent_id TEXT NOT NULL UNIQUE, symbol TEXT NOT NULL,
           ts INTEGER NOT NULL, counts_as_trade INTEGER NOT NULL, intent TEXT NOT NULL, verdict TEXT NOT NULL)`);
  const ctx = compileContext(DEFAULT_CONFIG, DEFAULT_POLICY);
  const window = new TradeWindow();
  const rows = intents.map((i) => [i.id, i.symbol, i.ts, 0, JSON.stringify(i), JSON.stringify(evaluate(i, ctx, window))]);
  const insert = db.prepare("INSERT INTO verdicts (intent_id, symbol, ts, counts_as_trade, intent, verdict) VALUES (?, ?, ?, ?, ?, ?)");
  const start = performance.now();
  for (let i = 0; i < rows.length; i += batchSize) {
    db.transaction(() => {
      for (const row of rows.slice(i, i + batchSize)) insert.run(...row);
    });
  }
  const seconds = (performance.now() - start) / 1000;
  db.close();
  return rows.length / seconds;
}

try {
  const gates = gateThroughput(compileContext(DEFAULT_CONFIG, DEFAULT_POLICY));
  const gatesWithLimits = gateThroughput(compileContext(DEFAULT_CONFIG, everyLimit()), cautiousAccount());
  const durable = await processorRun(true);
  const durableWithLimits = await processorRun(true, true);
  const foreground = await processorRun(false);
  // Each flush takes whatever the in-flight submitters queued during the last one.
  const raw = rawInsertRate(IN_FLIGHT);
  printTable("kernel: pure gate evaluation (one core)", [
    ["verdicts/s", gates],
    ["verdicts/s, every account limit on (ESS CAUTION)", gatesWithLimits],
  ]);
  printTable(`kernel: durable exactly-once processing (synchronous=FULL, ${IN_FLIGHT} in flight)`, [
    ["intents/s", durable.rate],
    ["p50 latency ms", durable.p50],
    ["p99 latency ms", durable.p99],
    ["intents/s, every account limit on and a portfolio", durableWithLimits.rate],
    ["p99 latency ms, every account limit on", durableWithLimits.p99],
    ["intents/s, checkpoints on the writer's thread", foreground.rate],
    ["p99 latency ms, checkpoints on the writer's thread", foreground.p99],
    [`raw batched inserts/s (batches of ${IN_FLIGHT}): limit`, raw],
  ]);
  printResult({
    bench: "kernel",
    value: Math.round(durable.rate),
    unit: "intents/s",
    limit: Math.round(raw),
    extra: {
      p50_ms: Number(durable.p50.toFixed(3)),
      p99_ms: Number(durable.p99.toFixed(3)),
      gate_verdicts_per_s: Math.round(gates),
      gate_verdicts_per_s_every_limit: Math.round(gatesWithLimits),
      intents_per_s_every_limit: Math.round(durableWithLimits.rate),
    },
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
