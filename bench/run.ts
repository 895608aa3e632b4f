// `bun run bench <name>`: runs bench/<name>.ts. Benchmarks are programs, not tests.
import { readdirSync } from "node:fs";
import { join } from "node:path";

const name = process.argv[2];
const available = readdirSync(import.meta.dir)
  .filter((f) => f.endsWith(".ts") && !["run.ts", "report.ts"].includes(f))
  .map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(`usage: bun run bench <${available.join("|")}>`);
  process.exit(2);
}
await import(join(import.meta.dir, `${name}.ts`));
