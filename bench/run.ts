// `bun run bench <name> [part or options]`: runs bench/<name>.ts, which reads
// what follows its name itself (e.g. `hub http`, `scale --nodes 2000`).
// Benchmarks are programs, not tests.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readCommandLine, runCommand, UsageError } from "../lib/command-line.ts";

const available = readdirSync(import.meta.dir)
  .filter((f) => f.endsWith(".ts") && !["run.ts", "report.ts"].includes(f))
  .map((f) => f.slice(0, -3));
const usage = () =>
  [
    `usage: bun run bench <${available.join("|")}> [part or options]`,
    "  hub [heartbeats|verdicts|http|reconnect]   one part of the hub benchmark only (TLS=1: over TLS)",
    "  scale [--nodes N] [--duration-s D] [--quick]   the load generator against 1 hub and 2, 3 replicas (scale --help)",
    "  settings by environment: see each benchmark's header (e.g. NODES, ROUNDS, IN_FLIGHT)",
  ].join("\n");

await runCommand("edgefed bench", usage, async () => {
  // Only the name is read here: the rest belongs to the benchmark.
  const first = process.argv[2];
  const [name] = readCommandLine(first === undefined ? [] : [first], {}, 1).positionals;
  if (name === undefined) throw new UsageError([`which benchmark? one of ${available.join(", ")} (see --help)`]);
  if (!available.includes(name)) throw new UsageError([`${name}: no such benchmark; one of ${available.join(", ")}`]);
  await import(join(import.meta.dir, `${name}.ts`));
});
