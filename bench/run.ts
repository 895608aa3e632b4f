// `bun run bench <name> [part]`: runs bench/<name>.ts (which reads `part`
// itself, e.g. `hub http`). Benchmarks are programs, not tests.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readCommandLine, runCommand, UsageError } from "../lib/command-line.ts";

const available = readdirSync(import.meta.dir)
  .filter((f) => f.endsWith(".ts") && !["run.ts", "report.ts"].includes(f))
  .map((f) => f.slice(0, -3));
const usage = () =>
  [
    `usage: bun run bench <${available.join("|")}> [part]`,
    "  hub [heartbeats|verdicts|http|reconnect]   one part of the hub benchmark only (TLS=1: over TLS)",
    "  settings by environment: see each benchmark's header (e.g. NODES, ROUNDS, IN_FLIGHT)",
  ].join("\n");

await runCommand("edgefed bench", usage, async () => {
  const [name] = readCommandLine(process.argv.slice(2), {}, 2).positionals;
  if (name === undefined) throw new UsageError([`which benchmark? one of ${available.join(", ")} (see --help)`]);
  if (!available.includes(name)) throw new UsageError([`${name}: no such benchmark; one of ${available.join(", ")}`]);
  await import(join(import.meta.dir, `${name}.ts`));
});
