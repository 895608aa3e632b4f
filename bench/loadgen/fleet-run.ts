// The load generator's parent: makes or reads the keys, forks the workers
// (fleet-worker.ts) with the nodes split between them, sums their counters,
// and keeps the timeline: the registration storm and warm-up (until every
// node is registered and connected, or warmupS), then the steady run of
// durationS, with a reconnect storm half way when asked. It prints a line
// every 5 s and returns the run's figures. Every wait is bounded. Several
// hub replicas: nodes register through each in turn and every replica's
// /metrics is read and summed. With a storm, the steady figures (rates, lag,
// hub RSS) are those of the run before it, and the storm's recovery is timed
// after.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DEFAULT_RECEIPT_TIMING } from "../../agent/awaiting-receipts.ts";
import { loadOrCreateNodes, saveVerdictSeqs } from "./key-cache.ts";
import { lagBetween, scrapeHubs, type HubScrape } from "./hub-scrape.ts";
import { emptyCounters, sumCounters, type WorkerCounters, type WorkerLine } from "./worker-counters.ts";
import type { WorkerSettings } from "./fleet-worker.ts";

export interface LoadOptions {
  nodes: number;
  hubUrl: string;
  /** Every hub replica's URL (default: [hubUrl]): nodes register through them in turn; lag and RSS are summed over them. */
  hubUrls?: string[];
  brokerUrl: string;
  heartbeatS: number;
  verdictsPerS: number;
  /** A verdict without its receipt this long is sent again (default: the agent's, DEFAULT_RECEIPT_TIMING). */
  receiptTimeoutS?: number;
  processes: number;
  durationS: number;
  warmupS: number;
  caFile: string;
  cacheDir: string;
  prefix: string;
  reconnectStorm: boolean;
  /** How the storm is caused (a broker restart, say); default: every worker drops its connections at once. */
  causeStorm?: () => Promise<void>;
  enrollmentToken: string;
  /** Reads GET /metrics (lag, hub RSS); "" measures no lag. */
  metricsToken: string;
  registerConcurrency: number;
  /** Where report lines go. */
  print(line: string): void;
}

export interface LoadResult {
  counters: WorkerCounters;
  keysCreated: number;
  registrationsPerS: number;
  /** Registered and connected at the end of the warm-up, or not. */
  warmedUp: boolean;
  warmupS: number;
  /** Connected nodes every 5 s from the start: [seconds, count]. */
  connectedOverTime: [number, number][];
  /** Publish failures and disconnects per second of the steady run. */
  dropsPerS: { publishFailures: number[]; disconnects: number[] };
  heartbeatsPerS: number;
  verdictsPerS: number;
  lag: { count: number; p50: number; p99: number } | null;
  hubRssBytes: number | null;
  /** The hub's RSS before the first registration of this run. */
  hubRssBeforeBytes: number | null;
  hubDropped: number | null;
  /** Seconds from the storm until every node that was connected is again (null: no storm, or not within the run). */
  stormRecoveryS: number | null;
  /** Seconds into the steady run when the storm was caused (null: none). */
  stormAtS: number | null;
  /** Each node's last verdict seq acknowledged with all before it (by receipt, or PUBACK without receipts; also kept in the cache dir for the next run). */
  verdictSeqs: Record<string, number>;
}

const REPORT_EVERY_S = 5;
const WORKER_EXIT_TIMEOUT_MS = 20_000;
/** How long after the run a reconnect storm's recovery is still waited for. */
const RECOVERY_LIMIT_S = 60;

interface Worker {
  child: ChildProcess;
  counters: WorkerCounters;
  final: Promise<Record<string, Record<string, number>>>;
}

function startWorker(options: LoadOptions, from: number, to: number, maxRunS: number): Worker {
  const settings: WorkerSettings = {
    hubUrls: options.hubUrls ?? [options.hubUrl],
    brokerUrl: options.brokerUrl,
    caFile: options.caFile,
    cacheDir: options.cacheDir,
    prefix: options.prefix,
    from,
    to,
    heartbeatS: options.heartbeatS,
    receiptTimeoutS: options.receiptTimeoutS ?? DEFAULT_RECEIPT_TIMING.timeoutMs / 1000,
    verdictsPerS: (options.verdictsPerS * (to - from)) / options.nodes,
    registerConcurrency: Math.max(1, Math.ceil(options.registerConcurrency / options.processes)),
    maxRunS,
  };
  const child = spawn(process.execPath, [join(import.meta.dir, "fleet-worker.ts")], {
    env: { ...process.env, LOADGEN_WORKER: JSON.stringify(settings), EDGEFED_ENROLL_TOKEN: options.enrollmentToken },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const worker: Worker = { child, counters: emptyCounters(), final: Promise.resolve({}) };
  worker.final = new Promise((resolve) => {
    let seqs: Record<string, Record<string, number>> = {};
    createInterface({ input: child.stdout! }).on("line", (text) => {
      let line: WorkerLine;
      try {
        line = JSON.parse(text) as WorkerLine;
      } catch {
        return void process.stderr.write(`worker: ${text}\n`); // not ours (a library's warning): passed on
      }
      worker.counters = line.counters;
      if (line.type === "final") seqs = line.verdictSeqs;
    });
    child.once("exit", () => resolve(seqs));
  });
  return worker;
}

export async function runLoad(options: LoadOptions, stopRequested: Promise<unknown>): Promise<LoadResult> {
  const { print } = options;
  const { created: keysCreated } = loadOrCreateNodes(options.cacheDir, options.prefix, options.nodes);
  print(`${options.nodes} nodes (${keysCreated} new keys, the rest from ${options.cacheDir}), ${options.processes} processes, hub ${options.hubUrl}`);
  const ca = options.caFile ? readFileSync(options.caFile, "utf8") : "";
  const hubUrls = options.hubUrls ?? [options.hubUrl];
  const scrape = async (): Promise<HubScrape | null> => (options.metricsToken ? scrapeHubs(hubUrls, options.metricsToken, ca).catch(() => null) : null);

  const maxRunS = options.warmupS + options.durationS + 60;
  const processes = Math.min(options.processes, options.nodes);
  const workers = Array.from({ length: processes }, (_, i) =>
    startWorker(options, Math.floor((i * options.nodes) / processes), Math.floor(((i + 1) * options.nodes) / processes), maxRunS),
  );
  const fleet = () => sumCounters(workers.map((w) => w.counters));
  let stopped = false;
  void stopRequested.then(() => (stopped = true));
  const start = Date.now();
  const seconds = () => (Date.now() - start) / 1000;
  const connectedOverTime: [number, number][] = [];
  const dropsPerS = { publishFailures: [] as number[], disconnects: [] as number[] };

  let lastReport = fleet();
  let lastReportAt = Date.now();
  let lastScrape: HubScrape | null = await scrape();
  const hubRssBeforeBytes = lastScrape?.rssBytes ?? null;
  const report = async (phase: string) => {
    const now = fleet();
    const nowAt = Date.now();
    const interval = Math.max(0.001, (nowAt - lastReportAt) / 1000);
    // Rates over less than a second (a report right after another) would say nothing.
    const rate = (key: keyof WorkerCounters) => (interval < 1 ? "-" : Math.round((now[key] - lastReport[key]) / interval));
    const hub = await scrape();
    const lag = hub && lastScrape ? lagBetween(lastScrape, hub, 0.5) : null;
    const lag99 = hub && lastScrape ? lagBetween(lastScrape, hub, 0.99) : null;
    if (hub) lastScrape = hub;
    connectedOverTime.push([Math.round(seconds()), now.connected]);
    print(
      `${phase} ${seconds().toFixed(0)}s registered ${now.registeredNew + now.registeredAgain}/${options.nodes} (new ${now.registeredNew}, failed ${now.registrationFailures})` +
        ` connected ${now.connected} heartbeats/s ${rate("heartbeats")} verdicts/s ${rate("verdictsAcked")} acks ${now.acks}` +
        ` awaiting receipt ${now.verdictsAwaitingReceipt} resent ${now.verdictsResent}` +
        ` publish failures ${now.publishFailures} disconnects ${now.disconnects}` +
        (lag && lag99 && lag.count > 0 ? ` lag p50 ${lag.seconds.toFixed(3)}s p99 ${lag99.seconds.toFixed(3)}s` : "") +
        (hub?.rssBytes ? ` hub rss ${Math.round(hub.rssBytes / 1e6)} MB` : ""),
    );
    lastReport = now;
    lastReportAt = nowAt; // when `now` was read: a slow scrape does not shorten the next interval
  };

  /** Runs until `done()` or `limitS` seconds, reporting every 5 s and sampling drops each second. */
  const phase = async (name: string, limitS: number, done: () => boolean, onSecond: (second: number) => void | Promise<void> = () => {}) => {
    const phaseStart = Date.now();
    let previous = fleet();
    for (let second = 1; !stopped && !done() && second <= limitS; second++) {
      await Bun.sleep(Math.max(0, phaseStart + second * 1000 - Date.now()));
      const now = fleet();
      dropsPerS.publishFailures.push(now.publishFailures - previous.publishFailures);
      dropsPerS.disconnects.push(now.disconnects - previous.disconnects);
      previous = now;
      await onSecond(second);
      if (second % REPORT_EVERY_S === 0) await report(name);
    }
  };

  // Warm-up: registration storm and connections.
  const allIn = () => {
    const c = fleet();
    return c.registrationDoneAt > 0 && c.connected === c.registeredNew + c.registeredAgain;
  };
  await phase("warm-up", options.warmupS, allIn);
  const warmedUp = allIn();
  const warmupS = seconds();
  await report("warm-up");
  dropsPerS.publishFailures.length = 0;
  dropsPerS.disconnects.length = 0;

  // Steady run, measured from here until the storm (or the end).
  const steadyStart = fleet();
  const steadyAt = Date.now();
  const scrapeAtSteady = await scrape();
  let measuredEnd: { counters: WorkerCounters; at: number; scrape: HubScrape | null } | null = null;
  let stormAt: number | null = null;
  let stormCaused: Promise<void> = Promise.resolve();
  let stormRecoveryS: number | null = null;
  let connectedBeforeStorm = 0;
  let droppedByStorm = false;
  const watchStorm = async (second: number) => {
    if (options.reconnectStorm && stormAt === null && second >= options.durationS / 2) {
      measuredEnd = { counters: fleet(), at: Date.now(), scrape: await scrape() };
      connectedBeforeStorm = measuredEnd.counters.connected;
      stormAt = Date.now();
      if (options.causeStorm) {
        print(`reconnect storm: ${connectedBeforeStorm} connected; the broker goes away`);
        stormCaused = options.causeStorm().catch((error: Error) => print(`reconnect storm: causing it failed: ${error.message}`));
      } else {
        print(`reconnect storm: dropping ${connectedBeforeStorm} connections at once`);
        for (const worker of workers) worker.child.kill("SIGUSR1");
      }
      return;
    }
    if (stormAt === null || stormRecoveryS !== null) return;
    // Workers report once a second: recovered only once the drop itself was seen.
    const connected = fleet().connected;
    if (connected < connectedBeforeStorm) droppedByStorm = true;
    else if (droppedByStorm) {
      stormRecoveryS = (Date.now() - stormAt) / 1000;
      print(`reconnect storm: all ${connectedBeforeStorm} connected again after ${stormRecoveryS.toFixed(1)} s`);
    }
  };
  await phase("run", options.durationS, () => false, watchStorm);
  // A recovery still going on at the end of the run is waited for, a bounded time.
  if (stormAt !== null && stormRecoveryS === null) await phase("recovery", RECOVERY_LIMIT_S, () => stormRecoveryS !== null, (second) => watchStorm(options.durationS + second));
  await stormCaused;
  await report("end");
  const measured = measuredEnd ?? { counters: fleet(), at: Date.now(), scrape: await scrape() };
  const steadyS = (measured.at - steadyAt) / 1000;
  const steadyEnd = measured.counters;
  const atEnd = fleet();
  // From the end of the run: a storm longer than the warm-up still finishes in it; one not finished yet gives the rate so far.
  const registrationEnd = atEnd.registrationDoneAt > 0 ? atEnd.registrationDoneAt : Date.now();
  const registrationsPerS = atEnd.registrationStartedAt > 0 ? (atEnd.registeredNew + atEnd.registeredAgain) / Math.max(0.001, (registrationEnd - atEnd.registrationStartedAt) / 1000) : NaN;
  const scrapeAtEnd = measured.scrape;

  for (const worker of workers) worker.child.kill("SIGTERM");
  const finals = await Promise.race([
    Promise.all(workers.map((w) => w.final)),
    Bun.sleep(WORKER_EXIT_TIMEOUT_MS).then(() => {
      for (const worker of workers) worker.child.kill("SIGKILL");
      return Promise.all(workers.map((w) => w.final));
    }),
  ]);
  const verdictSeqs: Record<string, number> = {};
  for (const byHub of finals) {
    for (const [hubKey, seqs] of Object.entries(byHub)) {
      saveVerdictSeqs(options.cacheDir, hubKey, seqs);
      Object.assign(verdictSeqs, seqs);
    }
  }
  const lag50 = scrapeAtEnd ? lagBetween(scrapeAtSteady, scrapeAtEnd, 0.5) : null;
  const lag99 = scrapeAtEnd ? lagBetween(scrapeAtSteady, scrapeAtEnd, 0.99) : null;
  return {
    counters: fleet(),
    keysCreated,
    registrationsPerS,
    warmedUp,
    warmupS,
    connectedOverTime,
    dropsPerS,
    heartbeatsPerS: (steadyEnd.heartbeats - steadyStart.heartbeats) / steadyS,
    verdictsPerS: (steadyEnd.verdictsAcked - steadyStart.verdictsAcked) / steadyS,
    lag: lag50 && lag99 ? { count: lag50.count, p50: lag50.seconds, p99: lag99.seconds } : null,
    hubRssBytes: scrapeAtEnd?.rssBytes ?? null,
    hubRssBeforeBytes,
    hubDropped: scrapeAtEnd && scrapeAtSteady ? scrapeAtEnd.dropped - scrapeAtSteady.dropped : null,
    stormRecoveryS,
    stormAtS: stormAt === null ? null : (stormAt - steadyAt) / 1000,
    verdictSeqs,
  };
}
