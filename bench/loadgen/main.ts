// bun run loadgen --nodes N --hub URL [...]: N nodes speaking the wire
// protocol against a running hub, for scale (the fleet simulator, npm run
// sim, stays for realistic agents). See --help; fleet-run.ts runs it,
// fleet-worker.ts and load-node.ts are the nodes. Prints a line every 5 s,
// then a table and, last, one JSON line in the bench format (bench/report.ts).
import { existsSync } from "node:fs";
import { readCommandLine, runCommand, UsageError } from "../../lib/command-line.ts";
import { firstStopSignal } from "../../lib/stop-signal.ts";
import { printResult, printTable, round } from "../report.ts";
import { runLoad, type LoadOptions } from "./fleet-run.ts";

const OPTIONS = {
  nodes: { type: "string" },
  hub: { type: "string" },
  broker: { type: "string" },
  "heartbeat-s": { type: "string" },
  "verdicts-per-s": { type: "string" },
  processes: { type: "string" },
  "duration-s": { type: "string" },
  "warmup-s": { type: "string" },
  "hub-ca": { type: "string" },
  "cache-dir": { type: "string" },
  prefix: { type: "string" },
  "register-concurrency": { type: "string" },
  "receipt-timeout-s": { type: "string" },
  "reconnect-storm": { type: "boolean" },
} as const;

const usage = () =>
  [
    "usage: bun run loadgen --nodes N --hub URL [options]",
    "  N nodes speak the wire protocol to the hub at URL: registration storm (real proof), birth,",
    "  heartbeats, verdict events (QoS 1, seq per node), acks of decisions; a line every 5 s, then a",
    "  summary and one JSON line in the bench format.",
    "  --nodes N                  nodes (lg-00000 ...); keys made once, kept in the cache dir",
    "  --hub URL                  the hub's HTTP API (http:// or https://)",
    "  --broker URL               MQTT broker to use instead of the one the hub returns",
    "  --heartbeat-s S            heartbeat period per node, jittered ±10% (default 5)",
    "  --verdicts-per-s R         verdict events per second across the whole fleet, each connected node its share (default 10)",
    "  --processes P              worker processes, the nodes split between them (default 1)",
    "  --duration-s D             steady run after the warm-up (default 60)",
    "  --warmup-s W               longest wait for every node to register and connect (default 300)",
    "  --hub-ca FILE              the hub's CA certificate (PEM) for https:// and mqtts://",
    "  --cache-dir DIR            where the keys file lives (default data/loadgen)",
    "  --prefix P                 node id prefix (default lg)",
    "  --register-concurrency C   registrations in flight across the fleet (default 32)",
    "  --reconnect-storm          half way through the run, drop every connection at once (the figures before it are the steady ones)",
    "  --receipt-timeout-s T      a verdict the hub has not receipted after T s is sent again, doubling per resend (default 10;",
    "                             only with a hub whose hub/features says receipts: then a verdict counts as acknowledged at its receipt)",
    "  environment: EDGEFED_ENROLL_TOKEN (required) an enrollment token with uses for N nodes;",
    "  EDGEFED_METRICS_TOKEN the hub's metrics (or admin) token: ingest lag and hub RSS from GET /metrics",
    "  (without it no lag is measured). A hub at its default rate limits takes 1,000 registrations",
    "  from one address at once, then 10/s: raise EDGEFED_RATE_REGISTER_PER_S for larger storms.",
  ].join("\n");

function number(values: Record<string, string | boolean | undefined>, name: string, fallback: number | null, min: number): number {
  const raw = values[name];
  if (raw === undefined) {
    if (fallback === null) throw new UsageError([`--${name} is required (see --help)`]);
    return fallback;
  }
  const value = Number(raw);
  if (typeof raw !== "string" || !Number.isFinite(value) || value < min) throw new UsageError([`--${name}: ${JSON.stringify(raw)} is not a number of at least ${min}`]);
  return value;
}

export function parseLoadOptions(args: string[], env: Record<string, string | undefined>): Omit<LoadOptions, "print"> {
  const { values } = readCommandLine(args, OPTIONS);
  const problems: string[] = [];
  const hubUrl = values.hub ?? "";
  if (!/^https?:\/\//.test(hubUrl)) problems.push("--hub: the hub's URL, http:// or https:// (see --help)");
  if (values.broker !== undefined && !/^(mqtts?|wss?):\/\//.test(values.broker)) problems.push(`--broker: ${JSON.stringify(values.broker)} is not an mqtt://, mqtts://, ws:// or wss:// URL`);
  if (values["hub-ca"] !== undefined && !existsSync(values["hub-ca"])) problems.push(`--hub-ca: no such file ${values["hub-ca"]}`);
  const enrollmentToken = env.EDGEFED_ENROLL_TOKEN ?? "";
  if (!enrollmentToken) problems.push("EDGEFED_ENROLL_TOKEN: an enrollment token is required (hub token create)");
  const prefix = values.prefix ?? "lg";
  if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(prefix)) problems.push(`--prefix: ${JSON.stringify(prefix)}: lowercase letters, digits and dashes, at most 41`);
  if (problems.length) throw new UsageError(problems);
  return {
    nodes: number(values, "nodes", null, 1),
    hubUrl,
    brokerUrl: values.broker ?? "",
    heartbeatS: number(values, "heartbeat-s", 5, 0.1),
    verdictsPerS: number(values, "verdicts-per-s", 10, 0),
    receiptTimeoutS: number(values, "receipt-timeout-s", 10, 0.01),
    processes: Math.floor(number(values, "processes", 1, 1)),
    durationS: number(values, "duration-s", 60, 1),
    warmupS: number(values, "warmup-s", 300, 1),
    caFile: values["hub-ca"] ?? "",
    cacheDir: values["cache-dir"] ?? "data/loadgen",
    prefix,
    reconnectStorm: values["reconnect-storm"] ?? false,
    enrollmentToken,
    metricsToken: env.EDGEFED_METRICS_TOKEN ?? "",
    registerConcurrency: Math.floor(number(values, "register-concurrency", 32, 1)),
  };
}

const maxOf = (series: number[]) => (series.length ? Math.max(...series) : 0);

if (import.meta.main) {
  await runCommand("edgefed loadgen", usage, async () => {
    const options = parseLoadOptions(process.argv.slice(2), process.env);
    const result = await runLoad({ ...options, print: (line) => console.log(line) }, firstStopSignal());
    const { counters, lag } = result;
    const registered = counters.registeredNew + counters.registeredAgain;
    // The hub's growth over the run, per 1,000 nodes: its RSS before the storm is what it needs for none.
    const rssPer1000 = result.hubRssBytes !== null && result.hubRssBeforeBytes !== null ? (result.hubRssBytes - result.hubRssBeforeBytes) / 1e6 / (registered / 1000) : NaN;
    printTable(`loadgen: ${options.nodes} nodes, ${options.processes} processes, heartbeat ${options.heartbeatS} s, ${options.verdictsPerS} verdicts/s, ${options.durationS} s run`, [
      ["registered (new / again / failed)", `${counters.registeredNew} / ${counters.registeredAgain} / ${counters.registrationFailures}`],
      ["registrations/s (storm)", round(result.registrationsPerS, 1)],
      ["warm-up (s, all registered and connected)", `${round(result.warmupS, 1)}${result.warmedUp ? "" : " (not all in)"}`],
      ["connected over time (s: nodes)", result.connectedOverTime.map(([s, n]) => `${s}:${n}`).join(" ")],
      ["heartbeats/s sent", round(result.heartbeatsPerS)],
      ["verdict events/s acknowledged (at the receipt, or the PUBACK without receipts)", round(result.verdictsPerS, 1)],
      ["verdicts acknowledged / broker PUBACKs / awaiting a receipt at the end / resent", `${counters.verdictsAcked} / ${counters.verdictsPubacked} / ${counters.verdictsAwaitingReceipt} / ${counters.verdictsResent}`],
      ["decisions acked", String(counters.acks)],
      ["ingest lag p50 / p99 (s, hub /metrics, verdicts)", lag ? `${round(lag.p50, 3)} / ${round(lag.p99, 3)} over ${lag.count} events` : "not measured (no EDGEFED_METRICS_TOKEN)"],
      ["publish failures per s (max; total)", `${maxOf(result.dropsPerS.publishFailures)}; ${counters.publishFailures}`],
      ["disconnects per s (max; total)", `${maxOf(result.dropsPerS.disconnects)}; ${counters.disconnects}`],
      ["verdicts skipped (too many awaiting acknowledgement)", String(counters.verdictsSkipped)],
      ["hub dropped messages (run)", String(result.hubDropped ?? "n/a")],
      ["reconnect storm recovery (s)", String(result.stormRecoveryS ?? "n/a")],
      ["hub RSS MB (before; at the end; growth per 1,000 nodes)", result.hubRssBytes !== null ? `${round((result.hubRssBeforeBytes ?? NaN) / 1e6)}; ${round(result.hubRssBytes / 1e6)}; ${round(rssPer1000, 1)}` : "n/a"],
    ]);
    const extra: Record<string, number> = {
      registered_new: counters.registeredNew,
      registered_again: counters.registeredAgain,
      registration_failures: counters.registrationFailures,
      registrations_per_s: round(result.registrationsPerS, 1),
      heartbeats_per_s: round(result.heartbeatsPerS),
      verdicts_per_s: round(result.verdictsPerS, 1),
      verdicts_acked: counters.verdictsAcked,
      verdicts_pubacked: counters.verdictsPubacked,
      verdicts_awaiting_receipt: counters.verdictsAwaitingReceipt,
      verdicts_resent: counters.verdictsResent,
      decision_acks: counters.acks,
      publish_failures: counters.publishFailures,
      disconnects: counters.disconnects,
    };
    if (lag) Object.assign(extra, { lag_p50_s: round(lag.p50, 4), lag_p99_s: round(lag.p99, 4), lag_events: lag.count });
    if (result.hubRssBytes !== null) Object.assign(extra, { hub_rss_mb: round(result.hubRssBytes / 1e6), hub_rss_mb_before: round((result.hubRssBeforeBytes ?? NaN) / 1e6), hub_rss_mb_per_1000_nodes: round(rssPer1000, 1) });
    if (result.stormRecoveryS !== null) extra.storm_recovery_s = round(result.stormRecoveryS, 2);
    // value: nodes connected at the end of the run; limit: the nodes asked for (ratio 1: the hub held them all).
    const connectedAtEnd = result.connectedOverTime.at(-1)?.[1] ?? 0;
    printResult({ bench: "loadgen", value: connectedAtEnd, unit: "nodes connected", limit: options.nodes, extra });
    process.exit(0);
  });
}
