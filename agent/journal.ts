// The agent's intent journal (journal.sqlite in the data dir): the intent
// processor opened on it, and what opening it found said loudly in the log.
import { join } from "node:path";
import type { GateConfig } from "../kernel/config.ts";
import { IntentProcessor, type EssChange } from "../kernel/intent-processor.ts";
import type { KernelPolicy } from "../kernel/policy.ts";

export const JOURNAL_FILE = "journal.sqlite";

export interface JournalOptions {
  dataDir: string;
  gateConfig: GateConfig;
  policy: KernelPolicy;
  /** The last seq already queued for the hub: a journal restored behind it continues after it. */
  queuedThrough: number;
  log(line: string): void;
}

/** Opens the journal, which judges what a crash left unjudged, and reports what it had to mend. */
export function openJournal(options: JournalOptions): IntentProcessor {
  const processor = IntentProcessor.open(join(options.dataDir, JOURNAL_FILE), {
    config: options.gateConfig,
    policy: options.policy,
    seqFloor: options.queuedThrough,
    onEssChange: (change) => options.log(essChangeLine(change)),
  });
  reportClampedCloses(processor, options.log);
  reportJournalBehind(processor, options.log);
  if (processor.essState !== "NOMINAL") options.log(`ESS state ${processor.essState} (kept in ${JOURNAL_FILE}): ${ESS_EFFECT[processor.essState]}`);
  return processor;
}

const ESS_EFFECT: Record<EssChange["to"], string> = {
  NOMINAL: "entries judged as usual",
  CAUTION: "entries may take half the notional cap and half the risk per trade (ESS_CAUTION)",
  WARNING: "entries held, exits only (ESS_WARNING)",
  CRITICAL: "entries frozen (ESS_CRITICAL) until drawdown is back at or below the caution threshold",
};

/** A change of the ESS state, said so that an operator reading the log on the Pi knows what the node does now. */
function essChangeLine(change: EssChange): string {
  const drawdown = change.drawdown_pct === null ? "no portfolio" : `drawdown ${change.drawdown_pct}%`;
  const t = change.thresholds;
  const thresholds = t ? ` (thresholds: caution ${t.caution_threshold_pct}%, warning ${t.warning_threshold_pct}%, critical ${t.critical_threshold_pct}%)` : "";
  const cause = change.cause === "portfolio" ? "at a portfolio snapshot" : "at a policy change";
  return `ESS state ${change.from} -> ${change.to} ${cause}, ${drawdown}${thresholds}: ${ESS_EFFECT[change.to]}`;
}

/** Closes dated in the future (written before closes were checked against the clock) would have held their symbols for good. */
function reportClampedCloses(processor: IntentProcessor, log: (line: string) => void): void {
  for (const { symbol, was, now } of processor.clampedCloses) {
    log(
      `WARNING: ${JOURNAL_FILE} held a close of ${symbol} dated ${new Date(was).toISOString()}, in the future: it would have held the symbol's entries until then. ` +
        `Its cooldown now runs from ${new Date(now).toISOString()}.`,
    );
  }
}

/**
 * A journal that ended before the cursor was replaced (restored from a
 * backup, or deleted). The processor continued its seqs after the cursor
 * (the seq floor), so the hub takes its new verdicts; what it cannot get
 * back is the record of intents judged after the backup: an intent id among
 * them would be judged again. Said loudly.
 */
function reportJournalBehind(processor: IntentProcessor, log: (line: string) => void): void {
  const behind = processor.behind;
  if (!behind) return;
  log(
    `WARNING: ${JOURNAL_FILE} ended at seq ${behind.lastSeq} but verdicts up to ${behind.continuedAfter} were already queued for the hub: the journal was replaced or restored. ` +
      `New verdicts continue at seq ${behind.continuedAfter + 1}; intents judged in seqs ${behind.lastSeq + 1} to ${behind.continuedAfter} are no longer remembered, and would be judged again if retried.`,
  );
}
