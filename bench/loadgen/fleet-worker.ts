// A load worker: one process, one event loop, a share of the fleet's nodes
// (load-node.ts). Started by fleet-run.ts with its settings as JSON in
// LOADGEN_WORKER and the enrollment token in EDGEFED_ENROLL_TOKEN (never on
// the command line). It registers its nodes a few at a time, connecting each
// as soon as it is registered; then one tick every 100 ms sends the
// heartbeats that are due and its share of the verdict rate. Once a second
// it prints its counters as a JSON line. SIGUSR1: drop every connection at
// once (a reconnect storm). SIGTERM/SIGINT: stop cleanly, print the final
// line and exit. It also stops by itself after maxRunS, should the parent die.
import { readFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { backoffMs } from "../../lib/backoff.ts";
import { publicKeyObject } from "../../protocol/signing.ts";
import { loadOrCreateNodes, readVerdictSeqs } from "./key-cache.ts";
import { LoadNodeSession, type NodeContext } from "./load-node.ts";
import { emptyCounters, type WorkerLine } from "./worker-counters.ts";

export interface WorkerSettings {
  /** Every hub replica's URL: node i registers through hubUrls[i % length]. */
  hubUrls: string[];
  brokerUrl: string;
  caFile: string;
  cacheDir: string;
  prefix: string;
  /** This worker's nodes: indexes from..to-1. */
  from: number;
  to: number;
  heartbeatS: number;
  /** A verdict without its receipt this long is sent again (load-node.ts). */
  receiptTimeoutS: number;
  /** This worker's share of the fleet's verdict rate. */
  verdictsPerS: number;
  registerConcurrency: number;
  maxRunS: number;
}

const TICK_MS = 100;
const REPORT_MS = 1000;
const REGISTER_ATTEMPTS = 12;
const REGISTER_BACKOFF_BASE_MS = 500;
const REGISTER_BACKOFF_MAX_MS = 10_000;
/** Verdicts awaiting their acknowledgement (receipt or PUBACK) beyond which the tick sends no more (counted as skipped): memory stays bounded when the hub falls behind. */
const MAX_VERDICTS_IN_FLIGHT = 20_000;
const STOP_TIMEOUT_MS = 3000;

const settings = JSON.parse(process.env.LOADGEN_WORKER ?? "null") as WorkerSettings | null;
if (!settings) throw new Error("fleet-worker.ts is started by the load generator (bun run loadgen), not by hand");

const counters = emptyCounters();
const reported = new Set<string>();
const MAX_DISTINCT_REPORTS = 20;
const hubKeys = new Map<string, KeyObject>();
const context: NodeContext = {
  enrollmentToken: process.env.EDGEFED_ENROLL_TOKEN ?? "",
  ca: settings.caFile ? readFileSync(settings.caFile, "utf8") : "",
  brokerUrl: settings.brokerUrl,
  receiptTimeoutMs: settings.receiptTimeoutS * 1000,
  bootId: `loadgen-${process.pid}-${Date.now()}`,
  counters,
  hubKey(publicKey) {
    let key = hubKeys.get(publicKey);
    if (!key) hubKeys.set(publicKey, (key = publicKeyObject(publicKey)));
    return key;
  },
  log: (line) => process.stderr.write(`${line}\n`),
  logOnce(what) {
    // Thousands of nodes meet the same trouble at once: each kind of it is said once per worker.
    if (reported.size >= MAX_DISTINCT_REPORTS || reported.has(what)) return;
    reported.add(what);
    process.stderr.write(`worker ${process.pid}: ${what} (said once)\n`);
  },
};

const { nodes } = loadOrCreateNodes(settings.cacheDir, settings.prefix, settings.to);
const { hubUrls } = settings;
const sessions = nodes.slice(settings.from).map((node, i) => new LoadNodeSession(node, context, hubUrls[(settings.from + i) % hubUrls.length]!));
const lastSeqs = readVerdictSeqs(settings.cacheDir);
let stopping = false;

function print(line: WorkerLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Registers one node, retrying what the hub says to retry, a bounded number of times. */
async function registerWithRetries(session: LoadNodeSession): Promise<void> {
  for (let attempt = 0; attempt < REGISTER_ATTEMPTS && !stopping; attempt++) {
    const result = await session.register(lastSeqs);
    if (result.kind === "registered") {
      if (result.created) counters.registeredNew++;
      else counters.registeredAgain++;
      session.connect();
      return;
    }
    if (result.kind !== "unreachable") {
      context.log(`${session.node.nodeId}: registration refused: ${result.reason}`);
      break;
    }
    counters.registrationRetries++;
    await Bun.sleep(backoffMs(attempt, REGISTER_BACKOFF_BASE_MS, REGISTER_BACKOFF_MAX_MS));
  }
  counters.registrationFailures++;
}

/** The registration storm: `registerConcurrency` requests in flight, each node connecting as soon as it is registered. */
async function registerAll(): Promise<void> {
  counters.registrationStartedAt = Date.now();
  let next = 0;
  const lane = async () => {
    while (!stopping && next < sessions.length) await registerWithRetries(sessions[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(settings!.registerConcurrency, sessions.length) }, lane));
  counters.registrationDoneAt = Date.now();
}

/** Heartbeats spread over the period (each node's first at a random point in it), then every period with ±10% jitter. */
function heartbeatDelayMs(): number {
  return settings!.heartbeatS * 1000 * (0.9 + Math.random() * 0.2);
}

let verdictCredit = 0;
let verdictCursor = 0;
function tick(): void {
  const now = Date.now();
  let connected = 0;
  for (const session of sessions) {
    if (!session.connected) continue;
    connected++;
    session.resendOverdue(now);
    if (session.nextHeartbeatAt === 0) session.nextHeartbeatAt = now + Math.random() * settings!.heartbeatS * 1000;
    else if (now >= session.nextHeartbeatAt) {
      session.heartbeat(now);
      session.nextHeartbeatAt = now + heartbeatDelayMs();
    }
  }
  // The verdict rate as credit: whole verdicts go to the next connected nodes in turn. The rate is
  // the whole fleet's: while only some nodes are connected (a slow storm) they send their share only,
  // not the fleet's at several verdicts a second each.
  verdictCredit += (settings!.verdictsPerS * (connected / sessions.length) * TICK_MS) / 1000;
  let tries = sessions.length * Math.max(1, Math.ceil(verdictCredit));
  while (verdictCredit >= 1 && tries-- > 0) {
    const session = sessions[verdictCursor++ % sessions.length]!;
    if (!session.connected) continue;
    verdictCredit--;
    if (counters.verdictsInFlight >= MAX_VERDICTS_IN_FLIGHT) counters.verdictsSkipped++;
    else session.verdict(now);
  }
  // Credit owed to nodes that are all offline is not kept: it would come out as a burst on reconnect.
  verdictCredit = Math.min(verdictCredit, 1);
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  clearInterval(reporter);
  clearTimeout(deadline);
  await Promise.all(sessions.map((session) => session.stop(STOP_TIMEOUT_MS)));
  const verdictSeqs: Record<string, Record<string, number>> = {};
  for (const session of sessions) if (session.hubPublicKey) (verdictSeqs[session.hubPublicKey] ??= {})[session.node.nodeId] = session.verdictsAcked;
  print({ type: "final", counters, verdictSeqs });
  process.exit(0);
}

const ticker = setInterval(tick, TICK_MS);
const reporter = setInterval(() => print({ type: "stats", counters }), REPORT_MS);
const deadline = setTimeout(() => void stop(), settings.maxRunS * 1000);
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
process.on("SIGUSR1", () => {
  for (const session of sessions) session.drop();
});
print({ type: "stats", counters });
await registerAll();
