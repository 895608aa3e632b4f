// The log line forms (logger.ts): JSON lines with time and level, the same
// behind a syslog priority for journald, a readable line on a terminal; and
// how a program finds out which one its stdout wants.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { openSync, closeSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BUN, removeTempDirs, tempDir } from "../test/helpers.ts";
import { createLogger, lineLog, type LogOutput } from "./logger.ts";

afterAll(removeTempDirs);

function logged(output: LogOutput, write: (logger: ReturnType<typeof createLogger>) => void): string[] {
  const lines: string[] = [];
  write(createLogger("unit", { output, destination: { write: (line: string) => lines.push(line) } }));
  return lines;
}

describe("createLogger", () => {
  test("json: one object per line with ISO time, level name, program name and message", () => {
    const [line] = logged("json", (logger) => lineLog(logger)("hello"));
    expect(line!.endsWith("\n")).toBe(true);
    const entry = JSON.parse(line!);
    expect(entry).toMatchObject({ level: "info", name: "unit", msg: "hello" });
    expect(new Date(entry.time).toISOString()).toBe(entry.time);
  });

  test("journald: each line behind its syslog priority, written once", () => {
    const lines = logged("journald", (logger) => {
      logger.debug("not shown: below the info level");
      logger.info("i");
      logger.warn("w");
      logger.error("e");
      logger.fatal("f");
    });
    expect(lines.map((line) => line.slice(0, 3))).toEqual(["<6>", "<4>", "<3>", "<2>"]);
    expect(lines.map((line) => JSON.parse(line.slice(3)).msg)).toEqual(["i", "w", "e", "f"]);
  });

  test("terminal: a readable line with date, time and level", () => {
    const [line] = logged("terminal", (logger) => logger.warn("careful"));
    expect(line).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] .*WARN.* \(unit\): .*careful/);
  });
});

describe("where stdout goes", () => {
  const script = `import { createLogger } from ${JSON.stringify(join(import.meta.dir, "logger.ts"))}; createLogger("probe").warn("w");`;

  /** Runs a logger in a child whose stdout is a file; `journalStream` picks JOURNAL_STREAM from the file's device and inode. */
  function run(journalStream: (file: string) => string | undefined): string {
    const file = join(tempDir(), "out");
    const fd = openSync(file, "w");
    const { dev, ino } = statSync(file);
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
    const stream = journalStream(`${dev}:${ino}`);
    if (stream !== undefined) env.JOURNAL_STREAM = stream;
    const child = spawnSync(BUN, ["-e", script], { env, stdio: ["ignore", fd, "inherit"] });
    closeSync(fd);
    expect(child.status).toBe(0);
    return readFileSync(file, "utf8");
  }

  test("journald's stream (JOURNAL_STREAM names stdout): lines carry a priority", () => {
    expect(run((ours) => ours)).toStartWith('<4>{"level":"warn"');
  });

  test("another stream, or none: plain JSON lines", () => {
    expect(run(() => "1:2")).toStartWith('{"level":"warn"');
    expect(run(() => undefined)).toStartWith('{"level":"warn"');
  });
});
