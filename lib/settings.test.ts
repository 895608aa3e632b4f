// The settings engine (settings.ts) on a toy table: precedence, checks that
// name their source, required settings, env files, --help rows, masking.
import { describe, expect, test } from "bun:test";
import { HelpRequested, UsageError } from "./command-line.ts";
import { port, text, yesNo } from "./setting-values.ts";
import { fromEnvFile, maskSecrets, parseSettings, settingsHelp, type SettingsTable } from "./settings.ts";

interface Toy {
  port: number;
  name: string;
  secret: string;
  verbose: boolean;
}

const TOY: SettingsTable<Toy> = [
  { key: "port", flag: "port", env: "TOY_PORT", parse: port, value: "PORT", default: "80", help: "where to listen" },
  { key: "name", flag: "name", parse: text, value: "NAME", help: "what to be called" },
  { key: "secret", flag: "secret", env: "TOY_SECRET", parse: text, value: "S", default: "", help: "a password", secret: true },
  { key: "verbose", flag: "verbose", env: "TOY_VERBOSE", parse: yesNo, default: "no", help: "say more" },
];

function problems(args: string[], env: Record<string, string> = {}): string[] {
  try {
    parseSettings(TOY, args, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).problems;
  }
  throw new Error("no UsageError");
}

describe("parseSettings", () => {
  test("defaults, then the environment, then flags", () => {
    expect(parseSettings(TOY, ["--name", "a"], {})).toEqual({ port: 80, name: "a", secret: "", verbose: false });
    expect(parseSettings(TOY, ["--name=a", "--verbose"], { TOY_PORT: "81", TOY_VERBOSE: "no" })).toMatchObject({ port: 81, verbose: true });
    expect(parseSettings(TOY, ["--name=a", "--port=82"], { TOY_PORT: "81" }).port).toBe(82);
  });

  test("every bad value is named by its source, also one a flag overrides; a setting without default is required", () => {
    expect(problems(["--port", "x"], { TOY_PORT: "y" })).toEqual(['TOY_PORT: "y" is not a port (0-65535)', '--port: "x" is not a port (0-65535)', "--name: required (see --help)"]);
  });

  test("a command-line mistake is one line; --help asks for the usage", () => {
    expect(problems(["--nmae", "a"])).toEqual(["--nmae: unknown option (did you mean --name?)"]);
    expect(() => parseSettings(TOY, ["-h"], {})).toThrow(HelpRequested);
  });
});

test("fromEnvFile: values with file and line, a guess for a misspelt variable of ours, others left alone", () => {
  const found: string[] = [];
  const given = fromEnvFile(TOY, { text: "TOY_PORT=8080\nTOY_PROT=1\nPATH=/bin\nTOY_PORT=9\n", path: "toy.env" }, { prefix: "TOY_", what: "a toy setting" }, found);
  expect(given.get("port")).toEqual({ raw: "8080", source: "toy.env:1: TOY_PORT" });
  expect(found).toEqual(["toy.env:2: TOY_PROT: not a toy setting (did you mean TOY_PORT?)", "toy.env:4: TOY_PORT: set again (first on line 1); keep one"]);
});

test("settingsHelp: one aligned row per setting, defaults shown for settings that take a value", () => {
  expect(settingsHelp(TOY)).toEqual([
    "  --port <PORT>  TOY_PORT     where to listen (default 80)",
    "  --name <NAME>               what to be called",
    "  --secret <S>   TOY_SECRET   a password",
    "  --verbose      TOY_VERBOSE  say more",
  ]);
});

test("maskSecrets: a set secret shows as ***, an unset one as it is", () => {
  const settings = { port: 1, name: "n", secret: "hunter2", verbose: false };
  expect(maskSecrets(TOY, settings)).toEqual({ ...settings, secret: "***" });
  expect(maskSecrets(TOY, { ...settings, secret: "" }).secret).toBe("");
});
