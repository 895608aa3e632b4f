// `npm run federation -- replay --config federation.yaml < events.jsonl`:
// runs the federation roles over recorded FederationEvents (one JSON object
// a line, as GET /api/federation/events exports them) and prints, one JSON
// object a line, each decision each role would have issued, the conflicts
// and alerts, a {"kind":"error"} line for each bad input line (the replay
// goes on), and a summary last. Without --config every default applies
// (examples/federation.yaml lists them).
import { lineBatches } from "../../lib/line-batches.ts";
import { readCommandLine, runCommand, UsageError } from "../../lib/command-line.ts";
import { DEFAULT_FEDERATION_CONFIG } from "./config.ts";
import { FederationConfigError, loadFederationConfig } from "./config-file.ts";
import { Replay } from "./replay.ts";

const USAGE = [
  "usage: npm run federation -- replay [--config federation.yaml] < events.jsonl > decisions.jsonl",
  "  replay     what each role would have issued over a recorded stream (JSONL in, JSONL out, a summary last)",
  "  --config   the federation config (YAML or JSON); default: every default (examples/federation.yaml)",
].join("\n");

/** Output in blocks: one write per line would cost more than the replay itself. */
class LineWriter {
  private buffer: string[] = [];
  private size = 0;

  write(record: object): void {
    const line = `${JSON.stringify(record)}\n`;
    this.buffer.push(line);
    this.size += line.length;
    if (this.size >= 1 << 16) this.flush();
  }

  flush(): void {
    if (this.buffer.length) process.stdout.write(this.buffer.join(""));
    this.buffer = [];
    this.size = 0;
  }
}

await runCommand("edgefed federation", () => USAGE, async () => {
  // The command first, then its options (so an option's mistake is named, not the command word).
  const args = process.argv.slice(2);
  const command = args[0]?.startsWith("-") ? undefined : args.shift();
  const { values } = readCommandLine(args, { config: { type: "string" } });
  if (command !== "replay") throw new UsageError([command === undefined ? "which command? replay (see --help)" : `${command}: unknown command; replay (see --help)`]);
  let config = DEFAULT_FEDERATION_CONFIG;
  if (values.config !== undefined) {
    try {
      config = loadFederationConfig(values.config);
    } catch (error) {
      if (!(error instanceof FederationConfigError)) throw error;
      throw new UsageError(error.problems);
    }
  }
  const replay = new Replay(config);
  const out = new LineWriter();
  for await (const lines of lineBatches(process.stdin)) {
    for (const line of lines) for (const record of replay.line(line)) out.write(record);
  }
  out.write(replay.summary());
  out.flush();
});
