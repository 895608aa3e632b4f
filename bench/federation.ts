// bun run bench federation
// (a) role evaluations per second over a fleet's state (NODES, default
//     1,000 nodes with 30 minutes of reports each): each role's whole
//     evaluation (its fleet rules, and its node rules for every node), pure,
//     on one core;
// (b) replay throughput in events/s: `npm run federation -- replay`'s work
//     (each JSONL line parsed, validated, folded and evaluated, every role
//     advisory) over two hours of a 100-node fleet at one snapshot per node
//     per 5 s;
// (c) the day: 24 hours of that fleet (about 1.7 M portfolio
//     snapshots, plus health, model, close and node health events), its
//     replay time (DAY=0 skips it).
// limit = JSON.parse alone of the same lines, the floor of reading them.
import { DEFAULT_FEDERATION_CONFIG, type FederationConfig } from "../hub/federation/config.ts";
import { FederationEngine } from "../hub/federation/engine.ts";
import { evaluateRole, ROLE_NAMES, type RoleInput } from "../hub/federation/role.ts";
import { ROLES } from "../hub/federation/roles/index.ts";
import { Replay } from "../hub/federation/replay.ts";
import { DEFAULT_POLICY } from "../kernel/policy.ts";
import { fleetStream } from "../test/fixtures/federation-stream.ts";
import { printResult, printTable, round } from "./report.ts";

const NODES = Number(process.env.NODES ?? 1000);
const DAY = process.env.DAY !== "0";

function withModes(mode: "advisory" | "off"): FederationConfig {
  const config = structuredClone(DEFAULT_FEDERATION_CONFIG);
  for (const name of ROLE_NAMES) config.roles[name].mode = mode;
  return config;
}

// (a) A fleet's state, then each role's whole evaluation over it, repeated for a second or so.
function roleEvaluations(): Record<string, number> {
  const engine = new FederationEngine(withModes("off"), { policyOf: () => DEFAULT_POLICY });
  for (const event of fleetStream({ nodes: NODES, durationS: 1800, seed: 7 })) engine.handle(event);
  const now = engine.fleet.now;
  engine.fleet.sampleFleet(now, DEFAULT_FEDERATION_CONFIG.engine.freshness_s * 1000);
  const input: RoleInput = { fleet: engine.fleet, config: DEFAULT_FEDERATION_CONFIG, now, changedSince: -Infinity, policyOf: () => DEFAULT_POLICY, latch: () => undefined };
  const rates: Record<string, number> = {};
  for (const name of ROLE_NAMES) {
    let sink = 0;
    sink += evaluateRole(ROLES[name], input).length; // warm-up
    let rounds = 0;
    const start = performance.now();
    while (performance.now() - start < 1000) {
      sink += evaluateRole(ROLES[name], input).length;
      rounds++;
    }
    rates[name] = rounds / ((performance.now() - start) / 1000);
    if (sink < 0) console.log(sink);
  }
  return rates;
}

/** Replays `durationS` of a 100-node fleet, made in blocks so only the replay is timed; events and seconds. */
function replayRun(durationS: number): { events: number; seconds: number; parseSeconds: number; decisions: number } {
  const replay = new Replay(withModes("advisory"));
  const stream = fleetStream({ nodes: 100, durationS, seed: 11 });
  let events = 0;
  let seconds = 0;
  let parseSeconds = 0;
  let decisions = 0;
  for (;;) {
    const block: string[] = [];
    for (let next = stream.next(); !next.done && block.length < 100_000; next = block.length < 100_000 ? stream.next() : { done: true, value: undefined }) block.push(JSON.stringify(next.value));
    if (block.length === 0) break;
    let start = performance.now();
    for (const line of block) JSON.parse(line);
    parseSeconds += (performance.now() - start) / 1000;
    start = performance.now();
    for (const line of block) for (const record of replay.line(line)) if (record.kind === "decision") decisions++;
    seconds += (performance.now() - start) / 1000;
    events += block.length;
    if (block.length < 100_000) break;
  }
  return { events, seconds, parseSeconds, decisions };
}

const rates = roleEvaluations();
printTable(`(a) role evaluations over a ${NODES.toLocaleString("en-US")}-node fleet's state (whole fleet per evaluation, one core)`, [
  ...ROLE_NAMES.map((name) => [`${name} /s`, rates[name]!] as [string, number]),
  ["all six roles /s", 1 / ROLE_NAMES.reduce((sum, name) => sum + 1 / rates[name]!, 0)],
]);

const replay = replayRun(2 * 3600);
const replayRate = replay.events / replay.seconds;
const parseRate = replay.events / replay.parseSeconds;
printTable("(b) replay, 2 h of a 100-node fleet (one snapshot per node per 5 s), every role advisory", [
  ["events", replay.events],
  ["replay events/s", replayRate],
  ["JSON.parse alone, lines/s (limit)", parseRate],
  ["decisions", replay.decisions],
]);

let day: ReturnType<typeof replayRun> | null = null;
if (DAY) {
  day = replayRun(86_400);
  printTable("(c) replay, a day of a 100-node fleet (one snapshot per node per 5 s)", [
    ["events", day.events],
    ["replay seconds", round(day.seconds, 1)],
    ["events/s", day.events / day.seconds],
    ["decisions", day.decisions],
  ]);
}

printResult({
  bench: "federation",
  value: round(replayRate),
  unit: "events/s",
  limit: round(parseRate),
  extra: {
    ...Object.fromEntries(ROLE_NAMES.map((name) => [`${name}_evaluations_per_s`, round(rates[name]!, 1)])),
    nodes: NODES,
    ...(day ? { day_events: day.events, day_replay_s: round(day.seconds, 1) } : {}),
  },
});
