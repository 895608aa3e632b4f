// The log of the long-running programs (hub, agent, `npm start`, the fleet
// simulator), made at their roots: every line carries its time and level.
// The rest of the code takes a `log(line)` function (lineLog) or the logger.
// Where stdout goes decides the form of a line:
//   a terminal: a readable line, `[2026-01-31 12:00:00.000] INFO (agent): ...`;
//   journald (systemd sets JOURNAL_STREAM to stdout's device:inode): one JSON
//     object per line behind a `<N>` syslog priority, which journald strips and
//     records as the entry's PRIORITY, so `journalctl -p warning` filters;
//   anything else (a pipe, a file): one JSON object per line.
// Lines are written synchronously on this thread: no pino transport (those
// run in a worker thread), nothing lost at process.exit, and the same in the
// Bun-compiled agent binary as under Node.
import { fstatSync } from "node:fs";
import pino, { type DestinationStream, type Level } from "pino";
import { prettyFactory } from "pino-pretty";

export type Logger = pino.Logger;
export type LogOutput = "terminal" | "journald" | "json";

/** sd-daemon(3) priorities by pino level. */
const SYSLOG_PRIORITY: Record<Level, number> = { trace: 7, debug: 7, info: 6, warn: 4, error: 3, fatal: 2 };

export interface LoggerOptions {
  /** Default: found out from stdout (see above). */
  output?: LogOutput;
  /** Where lines go; default stdout. */
  destination?: { write(line: string): unknown };
}

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  const settings: pino.LoggerOptions = {
    base: { name },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return pino(settings, stream(options.output ?? outputOfStdout(), destination));
}

/** A `log(line)` function writing info lines: what most of the code is handed. */
export function lineLog(logger: Logger): (line: string) => void {
  return (line) => logger.info(line);
}

function outputOfStdout(): LogOutput {
  if (process.stdout.isTTY) return "terminal";
  const journal = process.env.JOURNAL_STREAM;
  if (journal) {
    const { dev, ino } = fstatSync(1);
    if (journal === `${dev}:${ino}`) return "journald";
  }
  return "json";
}

function stream(output: LogOutput, destination: { write(line: string): unknown }): DestinationStream | pino.MultiStreamRes {
  switch (output) {
    case "json":
      return destination as DestinationStream;
    case "terminal": {
      const pretty = prettyFactory({ translateTime: "SYS:yyyy-mm-dd HH:MM:ss.l", ignore: "pid,hostname", singleLine: true });
      return { write: (line: string) => destination.write(pretty(line)) };
    }
    case "journald": {
      // One stream per level, each line to the highest that takes it (dedupe), behind that level's priority.
      const levels = Object.entries(SYSLOG_PRIORITY) as [Level, number][];
      return pino.multistream(
        levels.map(([level, priority]) => ({ level, stream: { write: (line: string) => destination.write(`<${priority}>${line}`) } })),
        { dedupe: true },
      );
    }
  }
}
