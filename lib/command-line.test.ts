// readCommandLine (command-line.ts): parseArgs in strict mode, its refusals
// said in one line each. The programs' exit codes are tested as processes in
// test/command-lines.test.ts.
import { expect, test } from "bun:test";
import { HelpRequested, readCommandLine, UsageError } from "./command-line.ts";

const OPTIONS = { "data-dir": { type: "string" }, "dry-run": { type: "boolean" } } as const;

function refusal(args: string[], maxPositionals = 0): string[] {
  try {
    readCommandLine(args, OPTIONS, maxPositionals);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).problems;
  }
  throw new Error("no UsageError");
}

test("values and positionals", () => {
  expect(readCommandLine(["--data-dir", "/d", "--dry-run", "x"], OPTIONS, 1)).toEqual({ values: { "data-dir": "/d", "dry-run": true }, positionals: ["x"] });
  expect(readCommandLine(["--data-dir=", "--data-dir=-x"], OPTIONS).values["data-dir"]).toBe("-x");
});

test("-h and --help, wherever they stand", () => {
  expect(() => readCommandLine(["--dry-run", "-h"], OPTIONS)).toThrow(HelpRequested);
  expect(() => readCommandLine(["--help", "--data-dir", "/d"], OPTIONS)).toThrow(HelpRequested);
});

test("each refusal is one line naming the culprit", () => {
  expect(refusal(["--data-dri", "/d"])).toEqual(["--data-dri: unknown option (did you mean --data-dir?)"]);
  expect(refusal(["--verbose"])).toEqual(["--verbose: unknown option (see --help)"]);
  expect(refusal(["-x"])).toEqual(["-x: unknown option (see --help)"]);
  expect(refusal(["--data-dir"])).toEqual(["--data-dir: needs a value (write --data-dir=VALUE for one starting with -)"]);
  expect(refusal(["--data-dir", "--dry-run"])).toEqual(["--data-dir: needs a value (write --data-dir=VALUE for one starting with -)"]);
  expect(refusal(["--dry-run=yes"])).toEqual(["--dry-run: takes no value"]);
  expect(refusal(["stray"])).toEqual(["stray: unexpected argument (see --help)"]);
  expect(refusal(["a", "b"], 1)).toEqual(["b: unexpected argument (see --help)"]);
});
