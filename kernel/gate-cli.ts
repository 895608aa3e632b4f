// `bun run gate`: checks a gate config against recorded intents.
//   bun run gate [--config core_gates.env] [--policy policy.json] [--db journal.db] < intents.jsonl > verdicts.jsonl
// Each input line (an intent, a {"type":"close"} event, a {"type":"portfolio"}
// snapshot, or a {"type":"health"} or {"type":"model"} report) gives one
// output line (a verdict, or an ack); a bad line gives an error object on its
// line and the run goes on. Closes and portfolio snapshots change the account
// the risk limits judge by; health and model reports are counted only (the
// kernel derives its own ESS state from the portfolio, and model performance
// is for the hub). Without --db the journal is in memory; with it the run is
// durable and resumable: run it again on the same input after a crash and
// every intent is judged exactly once.
import { readFileSync } from "node:fs";
import { jsonDepthProblem } from "../lib/json-depth.ts";
import { ConfigError, loadGateConfig } from "./config-file.ts";
import { CloseRefusedError, IntentProcessor, PortfolioRefusedError } from "./intent-processor.ts";
import { DEFAULT_POLICY, applyPolicyUpdate, type KernelPolicy } from "./policy.ts";
import { ESS_STATES, SYSTEM_STATUSES, type CloseEvent, type EssState, type PortfolioSnapshot, type SystemStatus } from "./types.ts";
import { invalidClose } from "./validate-intent.ts";
import { readCommandLine, runCommand } from "../lib/command-line.ts";

const USAGE = `usage: bun run gate [--config core_gates.env] [--policy policy.json] [--db journal.db] < intents.jsonl > verdicts.jsonl`;

type Line =
  | { kind: "intent"; value: unknown }
  | { kind: "close"; value: CloseEvent }
  | { kind: "portfolio"; value: PortfolioSnapshot }
  | { kind: "report"; value: { type: "health_ack" | "model_ack"; ts: number | null } }
  | { kind: "error"; value: { error: string; line: number; detail: string } };

/** Health and model reports: checked for what makes them one, counted, and acknowledged. */
function reportLine(value: Record<string, unknown>, lineNo: number): Line {
  const ts = typeof value.ts === "number" && Number.isFinite(value.ts) ? value.ts : null;
  if (value.type === "health") {
    const problem = !SYSTEM_STATUSES.includes(value.system_status as SystemStatus)
      ? `system_status: must be one of ${SYSTEM_STATUSES.join(", ")}`
      : value.ess_state !== undefined && !ESS_STATES.includes(value.ess_state as EssState)
        ? `ess_state: must be one of ${ESS_STATES.join(", ")}`
        : null;
    if (problem) return { kind: "error", value: { error: "invalid_health", line: lineNo, detail: problem } };
    return { kind: "report", value: { type: "health_ack", ts } };
  }
  if (typeof value.model_name !== "string" || value.model_name === "") {
    return { kind: "error", value: { error: "invalid_model", line: lineNo, detail: "model_name: must be a model's name" } };
  }
  return { kind: "report", value: { type: "model_ack", ts } };
}

function fail(message: string): never {
  process.stderr.write(`edgefed gate: ${message}\n`);
  process.exit(2);
}

function loadPolicy(file: string | undefined): KernelPolicy {
  if (file === undefined) return DEFAULT_POLICY;
  let update: unknown;
  try {
    const text = readFileSync(file, "utf8");
    const tooDeep = jsonDepthProblem(text);
    if (tooDeep) fail(`${file}: ${tooDeep}`);
    update = JSON.parse(text);
  } catch (error) {
    fail(`${file}: ${(error as Error).message}`);
  }
  const result = applyPolicyUpdate(DEFAULT_POLICY, update);
  if (!result.ok) fail(`${file}: invalid policy:\n  ${result.violations.join("\n  ")}`);
  return result.policy;
}

/** Classifies one input line: an intent, a close, or an error to report on its line. */
function classify(text: string, lineNo: number): Line {
  const tooDeep = jsonDepthProblem(text);
  if (tooDeep) return { kind: "error", value: { error: "json_too_deep", line: lineNo, detail: tooDeep } };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { kind: "error", value: { error: "invalid_json", line: lineNo, detail: (error as Error).message } };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "error", value: { error: "invalid_line", line: lineNo, detail: "expected a JSON object" } };
  }
  const type = (value as { type?: unknown }).type;
  if (type === undefined || type === "intent") return { kind: "intent", value };
  if (type === "portfolio") return { kind: "portfolio", value: value as PortfolioSnapshot }; // checked where it is recorded
  if (type === "health" || type === "model") return reportLine(value as Record<string, unknown>, lineNo);
  if (type !== "close") {
    return { kind: "error", value: { error: "invalid_line", line: lineNo, detail: `unknown type ${JSON.stringify(type)}` } };
  }
  const problem = invalidClose(value);
  if (problem) return { kind: "error", value: { error: "invalid_close", line: lineNo, detail: problem } };
  const { symbol, ts, pnl_usd, exit } = value as CloseEvent;
  return { kind: "close", value: { type: "close", symbol, ts, ...(pnl_usd !== undefined ? { pnl_usd } : {}), ...(exit !== undefined ? { exit } : {}) } };
}

/** Records a portfolio line: its ack with the ESS state and tradable equity it leaves, or the error naming the field. */
function recordPortfolio(processor: IntentProcessor, snapshot: PortfolioSnapshot, lineNo: number): object {
  try {
    processor.recordPortfolio(snapshot);
  } catch (error) {
    if (!(error instanceof PortfolioRefusedError)) throw error;
    return { error: "invalid_portfolio", line: lineNo, detail: error.message };
  }
  const account = processor.accountStatus();
  return { type: "portfolio_ack", ts: snapshot.ts, ess_state: account.ess_state, tradable_equity: account.capital?.tradable_equity ?? null };
}

/** Records a close line: its ack, or the error of a close the processor refuses (FUTURE_CLOSE: dated ahead of the clock). */
function recordClose(processor: IntentProcessor, close: CloseEvent, lineNo: number): object {
  try {
    processor.recordClose(close);
  } catch (error) {
    if (!(error instanceof CloseRefusedError)) throw error;
    return { error: "invalid_close", line: lineNo, detail: error.message };
  }
  return { type: "close_ack", symbol: close.symbol, ts: close.ts };
}

async function main(): Promise<void> {
  const args = readCommandLine(process.argv.slice(2), { config: { type: "string" }, policy: { type: "string" }, db: { type: "string" } }).values;

  let loaded;
  try {
    loaded = loadGateConfig({ file: args.config });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  for (const warning of loaded.warnings) process.stderr.write(`edgefed gate: warning: ${warning}\n`);
  const processor = IntentProcessor.open(args.db ?? ":memory:", { config: loaded.config, policy: loadPolicy(args.policy) });
  process.stderr.write(`edgefed gate: config ${loaded.hash}${args.config ? ` from ${args.config}` : " (defaults)"}\n`);
  for (const { symbol, was, now } of processor.clampedCloses) {
    process.stderr.write(`edgefed gate: warning: ${args.db} held a close of ${symbol} dated ${new Date(was).toISOString()}, in the future: its cooldown now runs from ${new Date(now).toISOString()}\n`);
  }

  const tally = { PASS: 0, HOLD: 0, other: 0, portfolio: 0, health: 0, model: 0 };
  const decoder = new TextDecoder();
  let carry = "";
  let lineNo = 0;

  // Lines are handled a chunk at a time: consecutive intents are judged as one
  // batch (one commit), closes and errors keep their place between them.
  const handle = (lines: string[]): void => {
    const out: string[] = [];
    let batch: unknown[] = [];
    const judgeBatch = () => {
      if (batch.length === 0) return;
      for (const verdict of processor.process(batch)) {
        tally[verdict.verdict]++;
        out.push(JSON.stringify(verdict));
      }
      batch = [];
    };
    for (const text of lines) {
      lineNo++;
      if (text.trim() === "") continue;
      const line = classify(text, lineNo);
      if (line.kind === "intent") {
        batch.push(line.value);
        continue;
      }
      judgeBatch(); // what came before any other line is judged before it
      if (line.kind === "error") {
        tally.other++;
        out.push(JSON.stringify(line.value));
      } else if (line.kind === "close") {
        tally.other++;
        out.push(JSON.stringify(recordClose(processor, line.value, lineNo)));
      } else if (line.kind === "portfolio") {
        const result = recordPortfolio(processor, line.value, lineNo);
        tally["error" in result ? "other" : "portfolio"]++;
        out.push(JSON.stringify(result));
      } else {
        tally[line.value.type === "health_ack" ? "health" : "model"]++;
        out.push(JSON.stringify(line.value));
      }
    }
    judgeBatch();
    if (out.length) process.stdout.write(out.join("\n") + "\n");
  };

  for await (const chunk of process.stdin) {
    const lines = (carry + decoder.decode(chunk as Uint8Array, { stream: true })).split("\n");
    carry = lines.pop()!;
    handle(lines);
  }
  carry += decoder.decode();
  if (carry !== "") handle([carry]);
  processor.close();
  process.stderr.write(
    `edgefed gate: ${tally.PASS} PASS, ${tally.HOLD} HOLD, ${tally.other} closes and errors, ${tally.portfolio} portfolio, ${tally.health} health and ${tally.model} model lines\n`,
  );
}

await runCommand("edgefed gate", () => USAGE, main);
