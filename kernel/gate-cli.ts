// `bun run gate`: checks a gate config against recorded intents.
//   bun run gate [--config core_gates.env] [--policy policy.json] [--db journal.db] < intents.jsonl > verdicts.jsonl
// Each input line (an intent, or a {"type":"close"} event) gives one output
// line (a verdict, or a close ack); a bad line gives an error object on its
// line and the run goes on. Without --db the journal is in memory; with it the
// run is durable and resumable: run it again on the same input after a crash
// and every intent is judged exactly once.
import { readFileSync } from "node:fs";
import { jsonDepthProblem } from "../lib/json-depth.ts";
import { ConfigError, loadGateConfig } from "./config-file.ts";
import { CloseRefusedError, IntentProcessor } from "./intent-processor.ts";
import { DEFAULT_POLICY, applyPolicyUpdate, type KernelPolicy } from "./policy.ts";
import type { CloseEvent } from "./types.ts";
import { invalidClose } from "./validate-intent.ts";
import { readCommandLine, runCommand } from "../lib/command-line.ts";

const USAGE = `usage: bun run gate [--config core_gates.env] [--policy policy.json] [--db journal.db] < intents.jsonl > verdicts.jsonl`;

type Line =
  | { kind: "intent"; value: unknown }
  | { kind: "close"; value: CloseEvent }
  | { kind: "error"; value: { error: string; line: number; detail: string } };

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
  if (type !== "close") {
    return { kind: "error", value: { error: "invalid_line", line: lineNo, detail: `unknown type ${JSON.stringify(type)}` } };
  }
  const problem = invalidClose(value);
  if (problem) return { kind: "error", value: { error: "invalid_close", line: lineNo, detail: problem } };
  const { symbol, ts } = value as CloseEvent;
  return { kind: "close", value: { type: "close", symbol, ts } };
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

  const tally = { PASS: 0, HOLD: 0, other: 0 };
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
      judgeBatch(); // what came before a close or an error is judged before it
      tally.other++;
      if (line.kind === "error") out.push(JSON.stringify(line.value));
      else out.push(JSON.stringify(recordClose(processor, line.value, lineNo)));
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
  process.stderr.write(`edgefed gate: ${tally.PASS} PASS, ${tally.HOLD} HOLD, ${tally.other} closes and errors\n`);
}

await runCommand("edgefed gate", () => USAGE, main);
