// bun run bench scale [--nodes N] [--duration-s D] [--quick]: the load
// generator (bench/loadgen/) as N nodes (default 10,000; heartbeat every 5 s,
// 1 verdict/s per node across the fleet) against each hub set-up in turn
// (bench/scale/setups.ts): 1 hub on SQLite with its embedded broker, 1 hub on
// PostgreSQL with Mosquitto, 2 and 3 replicas on PostgreSQL and Mosquitto.
// For each: registrations/s during the storm, sustained heartbeats and
// verdicts/s and the verdicts' ingest lag (before the reconnect storm), the
// reconnect storm's recovery after a broker restart (a hub restart for the
// embedded broker), hub RSS summed over replicas, and whether the registry
// counted every acknowledged verdict once (bench/scale/registry-check.ts).
// Then the ratios of 2 and 3 replicas to 1 hub on the same registry and
// broker, and the largest fleet one hub (SQLite, embedded broker) holds with
// verdict p99 lag under 1 s, searched over N/4, N/2, 3N/4, N (stopping at
// the first that fails). --quick: a few dozen nodes, seconds per set-up (the
// test runs it). Every run is bounded: warm-up, run, storm recovery.
// Needs Debian's mosquitto and postgresql (as the tests do).
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { readCommandLine, runCommand, UsageError } from "../lib/command-line.ts";
import { firstStopSignal } from "../lib/stop-signal.ts";
import { removeTempDirs } from "../test/helpers.ts";
import { postgresUnavailable, startPostgres } from "../test/support/postgres.ts";
import { runLoad } from "./loadgen/fleet-run.ts";
import { printResult, printTable, round } from "./report.ts";
import { checkRegistry, type RegistryCheck } from "./scale/registry-check.ts";
import { SETUPS, startSetup, type SetupKind } from "./scale/setups.ts";
import type { NodeRecord } from "../hub/nodes/node-model.ts";
import type { RunningPostgres } from "../test/support/postgres.ts";
import { BENCH_ADMIN_TOKEN } from "./support/hub-process.ts";

const HEARTBEAT_S = 5;
const VERDICTS_PER_NODE_S = 1;
/** The p99 verdict ingest lag under which a hub "holds" a fleet. */
const HELD_LAG_S = 1;

const OPTIONS = { nodes: { type: "string" }, "duration-s": { type: "string" }, quick: { type: "boolean" }, only: { type: "string" } } as const;
const usage = () =>
  [
    "usage: bun run bench scale [--nodes N] [--duration-s D] [--quick] [--only SETUP,...]",
    "  --nodes N       fleet size (default 10,000; 30 with --quick)",
    "  --duration-s D  each set-up's run after its warm-up, the broker restarted half way (default 60)",
    "  --quick         a few dozen nodes and seconds per set-up, to check that the bench runs",
    `  --only S,...    these set-ups only (${SETUPS.map((s) => s.key).join(", ")}); the search runs with sqlite_embedded`,
  ].join("\n");

interface Plan {
  nodes: number;
  durationS: number;
  /** Fleet sizes below `nodes` tried on one hub before the full size, smallest first. */
  searchSizes: number[];
  searchDurationS: number;
  processes: number;
  setups: SetupKind[];
}

function plan(args: string[]): Plan {
  const { values } = readCommandLine(args, OPTIONS);
  const quick = values.quick ?? false;
  const whole = (name: "nodes" | "duration-s", fallback: number) => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 4) throw new UsageError([`--${name}: ${JSON.stringify(raw)} is not a whole number of at least 4`]);
    return value;
  };
  const nodes = whole("nodes", quick ? 30 : 10_000);
  const durationS = whole("duration-s", quick ? 8 : 60);
  const fractions = quick ? [0.5] : [0.25, 0.5, 0.75];
  const only = values.only?.split(",") ?? SETUPS.map((s) => s.key);
  const unknown = only.filter((key) => !SETUPS.some((s) => s.key === key));
  if (unknown.length) throw new UsageError([`--only: ${unknown.join(", ")}: no such set-up; one of ${SETUPS.map((s) => s.key).join(", ")}`]);
  const setups = SETUPS.filter((s) => only.includes(s.key));
  return {
    nodes,
    durationS,
    searchSizes: setups.includes(SETUPS[0]!) ? [...new Set(fractions.map((f) => Math.max(1, Math.round(nodes * f))))].filter((n) => n < nodes) : [],
    searchDurationS: quick ? 4 : 20,
    processes: quick ? 1 : 2,
    setups,
  };
}

interface SetupRun {
  kind: SetupKind;
  nodes: number;
  storm: string;
  registered: number;
  registrationFailures: number;
  connectedAtEnd: number;
  registrationsPerS: number;
  warmupS: number;
  warmedUp: boolean;
  heartbeatsPerS: number;
  verdictsPerS: number;
  lagP50S: number;
  lagP99S: number;
  hubDropped: number;
  publishFailures: number;
  verdictsSkipped: number;
  /** Verdicts the broker acknowledged (PUBACK): what counted as acknowledged before receipts. */
  verdictsPubacked: number;
  /** Verdicts still awaiting the hub's receipt when the load generator stopped, and verdicts sent again. */
  verdictsAwaitingReceipt: number;
  verdictsResent: number;
  stormRecoveryS: number | null;
  hubRssMb: number;
  /** Hub RSS growth from before the registration storm to the end of the steady run, per 1,000 nodes registered (summed over replicas). */
  rssGrowthPer1000Mb: number;
  registry: RegistryCheck;
  loadAverage: [number, number];
}

async function measure(kind: SetupKind, nodes: number, durationS: number, storm: boolean, dir: string, run: Plan, postgres: RunningPostgres | null, stop: Promise<unknown>): Promise<SetupRun> {
  const loadBefore = loadavg()[0]!;
  const setup = await startSetup(kind, dir, postgres);
  let result: Awaited<ReturnType<typeof runLoad>>;
  let records: NodeRecord[];
  try {
    result = await runLoad(
      {
        nodes,
        hubUrl: setup.hubUrls[0]!,
        hubUrls: setup.hubUrls,
        brokerUrl: "",
        heartbeatS: HEARTBEAT_S,
        verdictsPerS: nodes * VERDICTS_PER_NODE_S,
        processes: run.processes,
        durationS,
        // A bound, not a wait: 30 s plus 30 ms a node (a storm at 27/s would take 6 minutes at 10,000).
        warmupS: 30 + Math.ceil(nodes * 0.03),
        caFile: "",
        cacheDir: join(dir, "loadgen"),
        prefix: "sc",
        reconnectStorm: storm,
        ...(storm ? { causeStorm: () => setup.restartBroker() } : {}),
        enrollmentToken: setup.enrollmentToken,
        metricsToken: BENCH_ADMIN_TOKEN,
        registerConcurrency: 32,
        print: (line) => console.log(`  [${kind.key} ${nodes}] ${line}`),
      },
      stop,
    );
  } finally {
    // The hubs flush their live state as they stop: the registry is read after.
    records = await setup.stop();
  }
  const { counters, lag } = result;
  const registered = counters.registeredNew + counters.registeredAgain;
  const rssGrowth = result.hubRssBytes !== null && result.hubRssBeforeBytes !== null ? result.hubRssBytes - result.hubRssBeforeBytes : NaN;
  return {
    kind,
    nodes,
    storm: storm ? setup.storm : "none",
    registered,
    registrationFailures: counters.registrationFailures,
    // The last count before the workers stopped (their final counters say 0).
    connectedAtEnd: result.connectedOverTime.at(-1)?.[1] ?? 0,
    registrationsPerS: result.registrationsPerS,
    warmupS: result.warmupS,
    warmedUp: result.warmedUp,
    heartbeatsPerS: result.heartbeatsPerS,
    verdictsPerS: result.verdictsPerS,
    lagP50S: lag?.p50 ?? NaN,
    lagP99S: lag?.p99 ?? NaN,
    hubDropped: result.hubDropped ?? NaN,
    publishFailures: counters.publishFailures,
    verdictsSkipped: counters.verdictsSkipped,
    verdictsPubacked: counters.verdictsPubacked,
    verdictsAwaitingReceipt: counters.verdictsAwaitingReceipt,
    verdictsResent: counters.verdictsResent,
    stormRecoveryS: result.stormRecoveryS,
    hubRssMb: (result.hubRssBytes ?? NaN) / 1e6,
    rssGrowthPer1000Mb: rssGrowth / 1e6 / (registered / 1000),
    registry: checkRegistry(result.verdictSeqs, records),
    loadAverage: [loadBefore, loadavg()[0]!],
  };
}

const figure = (n: number, digits = 0) => (Number.isFinite(n) ? round(n, digits) : NaN);
const show = (n: number, digits = 0) => (Number.isFinite(n) ? String(round(n, digits)) : "n/a");

function printSetup(run: SetupRun): void {
  const { registry } = run;
  printTable(`${run.kind.label}: ${run.nodes} nodes`, [
    ["registered (failed); connected at the end", `${run.registered} (${run.registrationFailures}); ${run.connectedAtEnd}`],
    ["registrations/s during the storm", show(run.registrationsPerS, 1)],
    ["warm-up s (all registered and connected)", `${show(run.warmupS, 1)}${run.warmedUp ? "" : " (not all in: bound reached)"}`],
    ["heartbeats/s sent (steady, before the broker restart)", show(run.heartbeatsPerS)],
    [`verdicts/s acknowledged (${VERDICTS_PER_NODE_S}/s offered per connected node)`, show(run.verdictsPerS, 1)],
    ["verdict ingest lag p50 / p99 s", `${show(run.lagP50S, 3)} / ${show(run.lagP99S, 3)}`],
    ["drops: hub-dropped messages; publish failures; verdicts not sent (acknowledgements behind)", `${show(run.hubDropped)}; ${run.publishFailures}; ${run.verdictsSkipped}`],
    ["verdicts: broker PUBACKs; resent; awaiting a receipt at the stop", `${run.verdictsPubacked}; ${run.verdictsResent}; ${run.verdictsAwaitingReceipt}`],
    ["registry: verdicts acknowledged (receipted) / counted", `${registry.acked} / ${registry.counted}`],
    ["registry: lost; gaps; duplicates refused; nodes short", `${registry.lost}; ${registry.gaps}; ${registry.duplicates}; ${registry.nodesShort}`],
    [`reconnect storm (${run.storm}): recovery s`, run.storm === "none" ? "n/a" : (run.stormRecoveryS?.toFixed(1) ?? "not within the bound")],
    ["hub RSS MB (sum over replicas); growth per 1,000 nodes", `${show(run.hubRssMb)}; ${show(run.rssGrowthPer1000Mb, 1)}`],
    ["load average (1 min) before / after", `${run.loadAverage[0].toFixed(1)} / ${run.loadAverage[1].toFixed(1)}`],
  ]);
}

/** The figures of one run in the JSON record, under `prefix`. */
function record(prefix: string, run: SetupRun): Record<string, number> {
  return {
    [`${prefix}_nodes`]: run.nodes,
    [`${prefix}_connected`]: run.connectedAtEnd,
    [`${prefix}_registrations_per_s`]: figure(run.registrationsPerS, 1),
    [`${prefix}_heartbeats_per_s`]: figure(run.heartbeatsPerS),
    [`${prefix}_verdicts_per_s`]: figure(run.verdictsPerS, 1),
    [`${prefix}_lag_p50_s`]: figure(run.lagP50S, 4),
    [`${prefix}_lag_p99_s`]: figure(run.lagP99S, 4),
    [`${prefix}_hub_dropped`]: figure(run.hubDropped),
    [`${prefix}_verdicts_lost`]: run.registry.lost,
    [`${prefix}_verdicts_resent`]: run.verdictsResent,
    [`${prefix}_verdicts_awaiting_receipt`]: run.verdictsAwaitingReceipt,
    [`${prefix}_verdict_gaps`]: run.registry.gaps,
    [`${prefix}_verdict_duplicates`]: run.registry.duplicates,
    [`${prefix}_storm_recovery_s`]: run.stormRecoveryS === null ? NaN : figure(run.stormRecoveryS, 2),
    [`${prefix}_hub_rss_mb`]: figure(run.hubRssMb),
    [`${prefix}_rss_growth_mb_per_1000_nodes`]: figure(run.rssGrowthPer1000Mb, 1),
    [`${prefix}_load_avg`]: figure(run.loadAverage[1], 1),
  };
}

const holds = (run: SetupRun) => run.connectedAtEnd === run.nodes && run.lagP99S < HELD_LAG_S;

await runCommand("edgefed bench scale", usage, async () => {
  const run = plan(process.argv.slice(3));
  const unavailable = postgresUnavailable();
  if (unavailable) throw new Error(`bench scale needs PostgreSQL: ${unavailable}`);
  const stop = firstStopSignal();
  let stopped = false;
  void stop.then(() => (stopped = true));
  const dir = mkdtempSync(join(tmpdir(), "edgefed-bench-scale-"));
  // Durable, as a production server runs.
  const postgres = await startPostgres({ durable: true });
  const runs: SetupRun[] = [];
  const search: SetupRun[] = [];
  try {
    console.log(`bench scale: ${run.nodes} nodes, heartbeat ${HEARTBEAT_S} s, ${VERDICTS_PER_NODE_S} verdict/s per node, ${run.durationS} s a set-up (load average ${loadavg()[0]!.toFixed(1)})`);
    // The largest fleet one hub holds: smaller sizes first, stopping at the first it does not hold; the full size is its main run below.
    for (const size of run.searchSizes) {
      if (stopped) break;
      const step = await measure(SETUPS[0]!, size, run.searchDurationS, false, join(dir, `search-${size}`), run, postgres, stop);
      search.push(step);
      console.log(`  one hub, ${size} nodes: p99 lag ${show(step.lagP99S, 3)} s, ${step.connectedAtEnd} connected: ${holds(step) ? "held" : "not held"}`);
      if (!holds(step)) break;
    }
    for (const kind of run.setups) {
      if (stopped) break;
      const result = await measure(kind, run.nodes, run.durationS, true, join(dir, kind.key), run, postgres, stop);
      runs.push(result);
      printSetup(result);
    }
  } finally {
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
    removeTempDirs(); // the Mosquittos' dirs
  }

  const embedded = runs.find((r) => r.kind === SETUPS[0]);
  const steps = [...search, ...(embedded && search.every(holds) ? [embedded] : [])];
  const held = steps.filter(holds).map((r) => r.nodes);
  const largestHeld = held.length ? Math.max(...held) : 0;
  printTable(`largest fleet one hub (SQLite, embedded broker) holds with verdict p99 lag under ${HELD_LAG_S} s`, [
    ...steps.map((r): [string, string] => [`${r.nodes} nodes`, `p99 ${show(r.lagP99S, 3)} s, ${r.connectedAtEnd} connected: ${holds(r) ? "held" : "not held"} (load ${r.loadAverage[1].toFixed(1)})`]),
    ["largest held", largestHeld ? String(largestHeld) : "none of those tried"],
  ]);

  const one = runs.find((r) => r.kind === SETUPS[1]);
  const ratios: Record<string, number> = {};
  const ratioRows: [string, string][] = [];
  for (const replicas of runs.filter((r) => r.kind.replicas > 1)) {
    if (!one) break;
    const of = (pick: (r: SetupRun) => number) => figure(pick(replicas) / pick(one), 2);
    const these = {
      verdicts_per_s: of((r) => r.verdictsPerS),
      heartbeats_per_s: of((r) => r.heartbeatsPerS),
      registrations_per_s: of((r) => r.registrationsPerS),
      lag_p99: of((r) => r.lagP99S),
      hub_rss: of((r) => r.hubRssMb),
    };
    for (const [name, value] of Object.entries(these)) ratios[`${replicas.kind.key}_to_1_${name}`] = value;
    ratioRows.push([`${replicas.kind.replicas} replicas / 1 hub`, Object.entries(these).map(([name, value]) => `${name} ${Number.isFinite(value) ? value : "n/a"}`).join(", ")]);
  }
  printTable(`ratios to 1 hub on PostgreSQL and Mosquitto (same machine, same fleet)`, ratioRows.length ? ratioRows : [["(not measured)", "n/a"]]);

  const extra: Record<string, number> = { setups_ran: runs.length, heartbeat_s: HEARTBEAT_S, verdicts_per_node_s: VERDICTS_PER_NODE_S, ...ratios };
  for (const r of runs) Object.assign(extra, record(r.kind.key, r));
  for (const r of search) Object.assign(extra, record(`search_${r.nodes}`, r));
  // value: the largest fleet one hub held; limit: the largest tried (ratio 1: it held the whole fleet).
  printResult({ bench: "scale", value: largestHeld, unit: `nodes held by one hub (p99 lag < ${HELD_LAG_S} s)`, limit: run.nodes, extra });
  process.exit(0);
});
