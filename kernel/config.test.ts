// Tests for the config contract (config.ts) and its loader (config-file.ts),
// against real files in a fresh temporary directory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CONFIG_KEYS,
  DEFAULT_CONFIG,
  closestConfigKey,
  configHash,
  frictionBps,
  isConfigKey,
  overrideConfig,
  parseConfigValue,
  type ConfigKey,
  type GateConfig,
} from "./config.ts";
import { ConfigError, loadGateConfig } from "./config-file.ts";

const EXAMPLE_FILE = join(import.meta.dir, "..", "examples", "core_gates.env");
const DEFAULT_HASH = "sha256:02470a113fdcd2f0";

let dir: string;
let fileCount = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "edgefed-config-test-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `text` to a new file in the temp dir and returns its path. */
function writeEnv(text: string): string {
  const file = join(dir, `gates-${++fileCount}.env`);
  writeFileSync(file, text);
  return file;
}

/** Runs `fn`, which must throw a ConfigError, and returns that error. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

function defaults(): GateConfig {
  return structuredClone({ ...DEFAULT_CONFIG }) as GateConfig;
}

describe("loadGateConfig: defaults and the example file", () => {
  test("no file and an empty env give the defaults, no sources, no warnings, the default hash", () => {
    const loaded = loadGateConfig({ env: {} });
    expect(loaded.config).toEqual(defaults());
    expect(loaded.sources).toEqual({});
    expect(loaded.warnings).toEqual([]);
    expect(loaded.hash).toBe(DEFAULT_HASH);
  });

  test("the returned config is a copy: changing it does not touch DEFAULT_CONFIG", () => {
    const loaded = loadGateConfig({ env: {} });
    loaded.config.MIN_NOTIONAL_USD = 999;
    expect(DEFAULT_CONFIG.MIN_NOTIONAL_USD).toBe(25);
    expect(loadGateConfig({ env: {} }).config.MIN_NOTIONAL_USD).toBe(25);
  });

  test("examples/core_gates.env loads to exactly DEFAULT_CONFIG with the same hash", () => {
    const loaded = loadGateConfig({ file: EXAMPLE_FILE, env: {} });
    expect(loaded.config).toEqual(defaults());
    expect(loaded.hash).toBe(configHash(DEFAULT_CONFIG));
    expect(loaded.hash).toBe(DEFAULT_HASH);
    expect(loaded.warnings).toEqual([]);
  });

  test("examples/core_gates.env: every key's source is its file:line", () => {
    const loaded = loadGateConfig({ file: EXAMPLE_FILE, env: {} });
    const lines: Record<ConfigKey, number> = {
      MIN_NOTIONAL_USD: 4,
      EDGE_MULTIPLIER: 5,
      FEES_BPS: 8,
      FUNDING_BPS: 9,
      SLIPPAGE_BPS: 10,
      NOISE_BPS: 11,
      MIN_HOLD_SECONDS: 13,
      MAX_TRADES_10MIN: 14,
      MIN_R_TREND: 17,
      MIN_R_RANGE: 18,
      MIN_R_HIGH_VOL: 19,
      MIN_R_LOW_VOL: 20,
      ALLOWED_MODELS_TREND: 23,
      ALLOWED_MODELS_RANGE: 24,
      ALLOWED_MODELS_HIGH_VOL: 25,
      ALLOWED_MODELS_LOW_VOL: 26,
      CAPITAL_MICRO_RISK_PER_TRADE_PCT: 32,
      CAPITAL_MICRO_DAILY_RISK_PCT: 33,
      CAPITAL_MICRO_MAX_POSITIONS: 34,
      CAPITAL_SMALL_RISK_PER_TRADE_PCT: 35,
      CAPITAL_SMALL_DAILY_RISK_PCT: 36,
      CAPITAL_SMALL_MAX_POSITIONS: 37,
      CAPITAL_MEDIUM_RISK_PER_TRADE_PCT: 38,
      CAPITAL_MEDIUM_DAILY_RISK_PCT: 39,
      CAPITAL_MEDIUM_MAX_POSITIONS: 40,
      CAPITAL_LARGE_RISK_PER_TRADE_PCT: 41,
      CAPITAL_LARGE_DAILY_RISK_PCT: 42,
      CAPITAL_LARGE_MAX_POSITIONS: 43,
    };
    const expected = Object.fromEntries(CONFIG_KEYS.map((k) => [k, `${EXAMPLE_FILE}:${lines[k]}`]));
    expect(loaded.sources).toEqual(expected);
  });
});

describe("loadGateConfig: file syntax", () => {
  test("# and ; comment lines and blank lines are skipped but still count for line numbers", () => {
    const file = writeEnv(
      ["# a comment", "; another comment", "", "   ", "  # indented comment", "MIN_NOTIONAL_USD=40", "\t; tabbed", "FEES_BPS=12"].join(
        "\n",
      ),
    );
    const loaded = loadGateConfig({ file, env: {} });
    expect(loaded.config).toEqual({ ...defaults(), MIN_NOTIONAL_USD: 40, FEES_BPS: 12 });
    expect(loaded.sources).toEqual({ MIN_NOTIONAL_USD: `${file}:6`, FEES_BPS: `${file}:8` });
    expect(loaded.warnings).toEqual([]);
  });

  test("an `export ` prefix and spaces around = are accepted", () => {
    const file = writeEnv("export MIN_NOTIONAL_USD=30\nexport   EDGE_MULTIPLIER = 2.5\n  NOISE_BPS  =  7  \n");
    const loaded = loadGateConfig({ file, env: {} });
    expect(loaded.config).toEqual({ ...defaults(), MIN_NOTIONAL_USD: 30, EDGE_MULTIPLIER: 2.5, NOISE_BPS: 7 });
    expect(loaded.sources).toEqual({
      MIN_NOTIONAL_USD: `${file}:1`,
      EDGE_MULTIPLIER: `${file}:2`,
      NOISE_BPS: `${file}:3`,
    });
  });

  test("values in matching double or single quotes are unquoted", () => {
    const file = writeEnv(
      [
        'MIN_NOTIONAL_USD="30"',
        "EDGE_MULTIPLIER='4.5'",
        'ALLOWED_MODELS_TREND="NHiTS, PatchTST, TFT"',
        "export ALLOWED_MODELS_RANGE='LightGBM'",
      ].join("\n"),
    );
    const loaded = loadGateConfig({ file, env: {} });
    expect(loaded.config).toEqual({
      ...defaults(),
      MIN_NOTIONAL_USD: 30,
      EDGE_MULTIPLIER: 4.5,
      ALLOWED_MODELS_TREND: ["NHiTS", "PatchTST", "TFT"],
      ALLOWED_MODELS_RANGE: ["LightGBM"],
    });
  });

  test("mismatched quotes are kept as part of the value and fail as not a number", () => {
    const file = writeEnv(`MIN_NOTIONAL_USD="30'\n`);
    const error = configError(() => loadGateConfig({ file, env: {} }));
    expect(error.problems).toEqual([`${file}:1: MIN_NOTIONAL_USD: ${JSON.stringify(`"30'`)} is not a number`]);
  });

  test("CRLF line endings give the same values and line numbers as LF", () => {
    const lines = ["# windows editor", "MIN_NOTIONAL_USD=35", "", "ALLOWED_MODELS_LOW_VOL=PatchTST,NHiTS", "MAX_TRADES_10MIN=5"];
    const crlf = writeEnv(lines.join("\r\n") + "\r\n");
    const lf = writeEnv(lines.join("\n") + "\n");
    const a = loadGateConfig({ file: crlf, env: {} });
    const b = loadGateConfig({ file: lf, env: {} });
    const expected = { ...defaults(), MIN_NOTIONAL_USD: 35, ALLOWED_MODELS_LOW_VOL: ["PatchTST", "NHiTS"], MAX_TRADES_10MIN: 5 };
    expect(a.config).toEqual(expected);
    expect(b.config).toEqual(expected);
    expect(a.hash).toBe(b.hash);
    expect(a.sources).toEqual({
      MIN_NOTIONAL_USD: `${crlf}:2`,
      ALLOWED_MODELS_LOW_VOL: `${crlf}:4`,
      MAX_TRADES_10MIN: `${crlf}:5`,
    });
  });

  test("CRLF: a bad value still reports its own line and no stray \\r", () => {
    const file = writeEnv("MIN_NOTIONAL_USD=25\r\nFEES_BPS=abc\r\n");
    const error = configError(() => loadGateConfig({ file, env: {} }));
    expect(error.problems).toEqual([`${file}:2: FEES_BPS: "abc" is not a number`]);
  });

  test("comma lists: spaces trimmed, empty items dropped, duplicates removed in first-seen order", () => {
    const file = writeEnv(
      [
        "ALLOWED_MODELS_TREND= NHiTS ,  PatchTST,NHiTS ",
        "ALLOWED_MODELS_RANGE=XGBoost,,LightGBM,",
        "ALLOWED_MODELS_HIGH_VOL=XGBoost, XGBoost , XGBoost",
        "ALLOWED_MODELS_LOW_VOL=model_v1.2-beta",
      ].join("\n"),
    );
    const loaded = loadGateConfig({ file, env: {} });
    expect(loaded.config.ALLOWED_MODELS_TREND).toEqual(["NHiTS", "PatchTST"]);
    expect(loaded.config.ALLOWED_MODELS_RANGE).toEqual(["XGBoost", "LightGBM"]);
    expect(loaded.config.ALLOWED_MODELS_HIGH_VOL).toEqual(["XGBoost"]);
    expect(loaded.config.ALLOWED_MODELS_LOW_VOL).toEqual(["model_v1.2-beta"]);
  });

  test("a key set twice in a file is refused: systemd would silently take the later line", () => {
    const file = writeEnv("MIN_NOTIONAL_USD=30\nMIN_NOTIONAL_USD=45\n");
    expect(() => loadGateConfig({ file, env: {} })).toThrow(`${file}:2: MIN_NOTIONAL_USD: set again (first on line 1); keep one`);
  });

  test("numbers in the forms the contract allows: .5, 5., +5, 1e2, surrounding spaces", () => {
    const file = writeEnv(
      ["EDGE_MULTIPLIER=.5", "MIN_NOTIONAL_USD=5.", "FEES_BPS=+5", "MIN_HOLD_SECONDS=1e2", "MAX_TRADES_10MIN=4.0"].join("\n"),
    );
    const loaded = loadGateConfig({ file, env: {} });
    expect(loaded.config).toEqual({
      ...defaults(),
      EDGE_MULTIPLIER: 0.5,
      MIN_NOTIONAL_USD: 5,
      FEES_BPS: 5,
      MIN_HOLD_SECONDS: 100,
      MAX_TRADES_10MIN: 4,
    });
  });
});

describe("loadGateConfig: environment", () => {
  test("the environment overrides the file; sources say file:line or environment", () => {
    const file = writeEnv("MIN_NOTIONAL_USD=30\nFEES_BPS=12\nALLOWED_MODELS_TREND=NHiTS\n");
    const loaded = loadGateConfig({
      file,
      env: { MIN_NOTIONAL_USD: "50", ALLOWED_MODELS_TREND: "PatchTST, TFT", MIN_R_RANGE: "2.2" },
    });
    expect(loaded.config).toEqual({
      ...defaults(),
      MIN_NOTIONAL_USD: 50,
      FEES_BPS: 12,
      ALLOWED_MODELS_TREND: ["PatchTST", "TFT"],
      MIN_R_RANGE: 2.2,
    });
    expect(loaded.sources).toEqual({
      MIN_NOTIONAL_USD: "environment",
      FEES_BPS: `${file}:2`,
      ALLOWED_MODELS_TREND: "environment",
      MIN_R_RANGE: "environment",
    });
  });

  test("the environment alone, without a file, overrides the defaults", () => {
    const loaded = loadGateConfig({ env: { MAX_TRADES_10MIN: "7" } });
    expect(loaded.config).toEqual({ ...defaults(), MAX_TRADES_10MIN: 7 });
    expect(loaded.sources).toEqual({ MAX_TRADES_10MIN: "environment" });
  });

  test("environment variables that are not gate variables are ignored, even near-misses", () => {
    const loaded = loadGateConfig({
      env: { PATH: "/usr/bin", MIN_NOTIONAL_UDS: "abc", min_notional_usd: "abc", TELEGRAM_CHAT_ID: "42", FEES_BPS: undefined },
    });
    expect(loaded.config).toEqual(defaults());
    expect(loaded.sources).toEqual({});
    expect(loaded.warnings).toEqual([]);
  });

  test("a bad environment value is an error naming the key and 'environment'", () => {
    const error = configError(() => loadGateConfig({ env: { EDGE_MULTIPLIER: "three" } }));
    expect(error.problems).toEqual([`environment: EDGE_MULTIPLIER: "three" is not a number`]);
    expect(error.message).toBe(`invalid gate config:\n  environment: EDGE_MULTIPLIER: "three" is not a number`);
  });

  test("a bad file value is reported even when the environment overrides that key", () => {
    const file = writeEnv("MIN_NOTIONAL_USD=abc\n");
    const error = configError(() => loadGateConfig({ file, env: { MIN_NOTIONAL_USD: "30" } }));
    expect(error.problems).toEqual([`${file}:1: MIN_NOTIONAL_USD: "abc" is not a number`]);
  });
});

describe("loadGateConfig: errors", () => {
  // [key, raw value, expected problem]: decided from the number regex in parseConfigValue.
  const badValues: [ConfigKey, string, string][] = [
    ["MIN_NOTIONAL_USD", "abc", `"abc" is not a number`],
    ["MIN_NOTIONAL_USD", "25 # inline comment", `"25 # inline comment" is not a number`],
    ["MIN_NOTIONAL_USD", "", `"" is not a number`],
    ["MIN_NOTIONAL_USD", "0x10", `"0x10" is not a number`],
    ["EDGE_MULTIPLIER", "1,5", `"1,5" is not a number`],
    ["EDGE_MULTIPLIER", "3x", `"3x" is not a number`],
    ["FEES_BPS", "Infinity", `"Infinity" is not a number`],
    ["FEES_BPS", "NaN", `"NaN" is not a number`],
    ["FEES_BPS", "1e309", `"1e309" is not a finite number`],
    ["SLIPPAGE_BPS", "-5", `-5 is negative`],
    ["MIN_R_TREND", "-0.5", `-0.5 is negative`],
    ["MIN_HOLD_SECONDS", "1.5", `1.5 is not a whole number`],
    ["MIN_HOLD_SECONDS", "-30", `-30 is negative`],
    ["MAX_TRADES_10MIN", "2.5", `2.5 is not a whole number`],
    ["MAX_TRADES_10MIN", "1e-1", `0.1 is not a whole number`],
    ["ALLOWED_MODELS_TREND", "NHiTS, Patch TST", `"Patch TST" is not a model name`],
    ["ALLOWED_MODELS_RANGE", "XGBoost;LightGBM", `"XGBoost;LightGBM" is not a model name`],
  ];

  test.each(badValues)("%s=%p is a ConfigError naming key, file and line", (key, raw, problem) => {
    const file = writeEnv(`# header\n${key}=${raw}\n`);
    const error = configError(() => loadGateConfig({ file, env: {} }));
    expect(error.name).toBe("ConfigError");
    expect(error.problems).toEqual([`${file}:2: ${key}: ${problem}`]);
    expect(error.message).toBe(`invalid gate config:\n  ${file}:2: ${key}: ${problem}`);
    expect(error.message).toContain(key);
    expect(error.message).toContain(`${file}:2`);
  });

  test.each([
    ["MIN_NOTIONAL_UDS", "MIN_NOTIONAL_USD"],
    ["min_notional_usd", "MIN_NOTIONAL_USD"],
    ["MAX_TRADE_10MIN", "MAX_TRADES_10MIN"],
    ["MIN_R_TRND", "MIN_R_TREND"],
    ["FEE_BPS", "FEES_BPS"],
    ["Allowed_Models_Trend", "ALLOWED_MODELS_TREND"],
  ])("misspelt key %s is an error with 'did you mean %s?'", (typo, real) => {
    const file = writeEnv(`MIN_R_RANGE=2\n\n${typo}=25\n`);
    const error = configError(() => loadGateConfig({ file, env: {} }));
    expect(error.problems).toEqual([`${file}:3: ${typo}: unknown gate variable (did you mean ${real}?)`]);
    expect(error.message).toContain(`did you mean ${real}?`);
  });

  test("a line without '=' is a ConfigError naming the file and line", () => {
    const file = writeEnv("MIN_NOTIONAL_USD=25\nMIN_NOTIONAL_USD 30\n");
    const error = configError(() => loadGateConfig({ file, env: {} }));
    expect(error.problems).toEqual([`${file}:2: expected KEY=VALUE, got "MIN_NOTIONAL_USD 30"`]);
  });

  test("a key that is not an identifier is a malformed line", () => {
    const file = writeEnv("MIN-NOTIONAL-USD=25\n");
    const error = configError(() => loadGateConfig({ file, env: {} }));
    expect(error.problems).toEqual([`${file}:1: expected KEY=VALUE, got "MIN-NOTIONAL-USD=25"`]);
  });

  test("a malformed line is quoted only up to 80 characters", () => {
    const long = "X".repeat(120);
    const file = writeEnv(`${long}\n`);
    const error = configError(() => loadGateConfig({ file, env: {} }));
    expect(error.problems).toEqual([`${file}:1: expected KEY=VALUE, got "${"X".repeat(80)}"`]);
  });

  test("a missing file is a ConfigError that names it", () => {
    const file = join(dir, "does-not-exist.env");
    const error = configError(() => loadGateConfig({ file, env: {} }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]!.startsWith(`${file}: cannot read: `)).toBe(true);
    expect(error.problems[0]).toContain("ENOENT");
  });

  test("a directory in place of the file is a ConfigError that names it", () => {
    const sub = join(dir, "a-directory.env");
    mkdirSync(sub);
    const error = configError(() => loadGateConfig({ file: sub, env: {} }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]!.startsWith(`${sub}: cannot read: `)).toBe(true);
    expect(error.problems[0]).toContain("EISDIR");
  });

  test("several problems in one file (and the environment) are all reported in one ConfigError, in order", () => {
    const file = writeEnv(
      [
        "MIN_NOTIONAL_USD=abc", // 1
        "# fine", // 2
        "EDGE_MULTIPLIER=3.0", // 3 fine
        "MIN_HOLD_SECONDS=1.5", // 4
        "MAX_TRADE_10MIN=3", // 5
        "this line is broken", // 6
        "FEES_BPS=-1", // 7
        "TELEGRAM_CHAT_ID=123", // 8: only a warning
        "ALLOWED_MODELS_TREND=NHiTS,bad name", // 9
      ].join("\n"),
    );
    const error = configError(() => loadGateConfig({ file, env: { NOISE_BPS: "Infinity" } }));
    expect(error.problems).toHaveLength(7);
    expect(error.problems).toEqual([
      `${file}:6: expected KEY=VALUE, got "this line is broken"`,
      `${file}:1: MIN_NOTIONAL_USD: "abc" is not a number`,
      `${file}:4: MIN_HOLD_SECONDS: 1.5 is not a whole number`,
      `${file}:5: MAX_TRADE_10MIN: unknown gate variable (did you mean MAX_TRADES_10MIN?)`,
      `${file}:7: FEES_BPS: -1 is negative`,
      `${file}:9: ALLOWED_MODELS_TREND: "bad name" is not a model name`,
      `environment: NOISE_BPS: "Infinity" is not a number`,
    ]);
    for (const problem of error.problems) expect(error.message).toContain(problem);
  });

  test("an unrelated unknown key is only a warning; the rest loads", () => {
    const file = writeEnv("TELEGRAM_CHAT_ID=123456\nMIN_NOTIONAL_USD=30\nexport HTTP_PROXY=http://proxy:3128\n");
    const loaded = loadGateConfig({ file, env: {} });
    expect(loaded.config).toEqual({ ...defaults(), MIN_NOTIONAL_USD: 30 });
    expect(loaded.warnings).toEqual([
      `${file}:1: TELEGRAM_CHAT_ID: not a gate variable, ignored`,
      `${file}:3: HTTP_PROXY: not a gate variable, ignored`,
    ]);
    expect(loaded.sources).toEqual({ MIN_NOTIONAL_USD: `${file}:2` });
  });
});

describe("configHash", () => {
  test("format is sha256: and 16 hex digits, and DEFAULT_CONFIG's value is pinned", () => {
    expect(configHash(DEFAULT_CONFIG)).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(configHash(DEFAULT_CONFIG)).toBe(DEFAULT_HASH);
  });

  test("stable across key order", () => {
    const reversed = Object.fromEntries([...CONFIG_KEYS].reverse().map((k) => [k, DEFAULT_CONFIG[k]])) as unknown as GateConfig;
    expect(Object.keys(reversed)[0]).toBe("CAPITAL_LARGE_MAX_POSITIONS");
    expect(configHash(reversed)).toBe(DEFAULT_HASH);
  });

  test("stable across sources: the same values from a file, the environment, or spelled differently", () => {
    const fromFile = loadGateConfig({ file: writeEnv("MIN_NOTIONAL_USD=30\nEDGE_MULTIPLIER=3\n"), env: {} });
    const fromEnv = loadGateConfig({ env: { MIN_NOTIONAL_USD: "30.0", EDGE_MULTIPLIER: "3e0" } });
    const reordered = loadGateConfig({ file: writeEnv("EDGE_MULTIPLIER='3.00'\nMIN_NOTIONAL_USD=\"30\"\n"), env: {} });
    expect(fromFile.hash).toBe(fromEnv.hash);
    expect(reordered.hash).toBe(fromEnv.hash);
    expect(fromFile.hash).toBe(configHash({ ...defaults(), MIN_NOTIONAL_USD: 30 }));
    expect(fromFile.hash).not.toBe(DEFAULT_HASH);
  });

  test("differs when any single value changes, and all such hashes differ from each other", () => {
    const seen = new Set<string>([DEFAULT_HASH]);
    for (const key of CONFIG_KEYS) {
      const changed = defaults();
      const value = changed[key];
      if (Array.isArray(value)) (changed as Record<ConfigKey, unknown>)[key] = [...value, "ExtraModel"];
      else (changed as Record<ConfigKey, unknown>)[key] = value + 1;
      const hash = configHash(changed);
      expect(hash).toMatch(/^sha256:[0-9a-f]{16}$/);
      expect(seen.has(hash)).toBe(false);
      seen.add(hash);
    }
    expect(seen.size).toBe(CONFIG_KEYS.length + 1);
  });

  test("moving a model from one regime's list to another changes the hash", () => {
    const a = { ...defaults(), ALLOWED_MODELS_HIGH_VOL: ["XGBoost", "PatchTST"], ALLOWED_MODELS_LOW_VOL: [] as string[] };
    const b = { ...defaults(), ALLOWED_MODELS_HIGH_VOL: ["XGBoost"], ALLOWED_MODELS_LOW_VOL: ["PatchTST"] };
    expect(configHash(a)).not.toBe(configHash(b));
    expect(configHash(b)).toBe(DEFAULT_HASH);
  });

  test("extra properties outside the contract do not change the hash", () => {
    const extra = { ...defaults(), SOMETHING_ELSE: 1 } as GateConfig;
    expect(configHash(extra)).toBe(DEFAULT_HASH);
  });
});

describe("closestConfigKey and isConfigKey", () => {
  test.each([
    ["MIN_NOTIONAL_USD", "MIN_NOTIONAL_USD"],
    ["min_notional_usd", "MIN_NOTIONAL_USD"], // case only
    ["MIN_NOTIONAL_UDS", "MIN_NOTIONAL_USD"], // 1 transposition
    ["MAX_TRADE_10MIN", "MAX_TRADES_10MIN"], // 1 deletion
    ["MIN_NOTIONAL_US", "MIN_NOTIONAL_USD"],
    ["MIN_NOTIONL_US", "MIN_NOTIONAL_USD"], // 2 edits on a long key
    ["FEE_BPS", "FEES_BPS"], // 7 characters: 1 edit allowed
    ["allowed_models_low_vol", "ALLOWED_MODELS_LOW_VOL"],
  ])("closestConfigKey(%p) = %p", (input, expected) => {
    expect(closestConfigKey(input)).toBe(expected as ConfigKey);
  });

  test.each([
    ["TELEGRAM_CHAT_ID"],
    ["FE_BPS"], // 6 characters, 2 edits: too far for a short key
    ["PATH"],
    [""],
  ])("closestConfigKey(%p) is null", (input) => {
    expect(closestConfigKey(input)).toBeNull();
  });

  test("isConfigKey knows exactly the 28 contract keys and nothing inherited", () => {
    expect(CONFIG_KEYS).toHaveLength(28);
    for (const key of CONFIG_KEYS) expect(isConfigKey(key)).toBe(true);
    expect(isConfigKey("min_notional_usd")).toBe(false);
    expect(isConfigKey("toString")).toBe(false);
    expect(isConfigKey("__proto__")).toBe(false);
    expect(isConfigKey("constructor")).toBe(false);
  });

  test("frictionBps of the defaults is 22", () => {
    expect(frictionBps(DEFAULT_CONFIG)).toBe(22);
    expect(frictionBps({ ...defaults(), FEES_BPS: 0, NOISE_BPS: 1 })).toBe(9);
  });
});

describe("parseConfigValue", () => {
  test.each([
    ["25", 25],
    [" 25 ", 25],
    ["3.0", 3],
    [".5", 0.5],
    ["5.", 5],
    ["+7", 7],
    ["1e2", 100],
    ["2.5E-1", 0.25],
    ["0", 0],
  ])("number key accepts string %p as %p", (raw, value) => {
    expect(parseConfigValue("EDGE_MULTIPLIER", raw)).toEqual({ ok: true, value });
  });

  test.each([
    ["abc", `"abc" is not a number`],
    ["", `"" is not a number`],
    ["0x10", `"0x10" is not a number`],
    ["0b1", `"0b1" is not a number`],
    ["1_000", `"1_000" is not a number`],
    ["Infinity", `"Infinity" is not a number`],
    ["-Infinity", `"-Infinity" is not a number`],
    ["NaN", `"NaN" is not a number`],
    ["1e309", `"1e309" is not a finite number`],
    ["-1", `-1 is negative`],
    ["25 # note", `"25 # note" is not a number`],
  ])("number key rejects string %p", (raw, problem) => {
    expect(parseConfigValue("MIN_NOTIONAL_USD", raw)).toEqual({ ok: false, problem });
  });

  test("typed numbers: finite non-negative ones pass, NaN/Infinity/negatives/other types do not", () => {
    expect(parseConfigValue("MIN_NOTIONAL_USD", 40)).toEqual({ ok: true, value: 40 });
    expect(parseConfigValue("MIN_NOTIONAL_USD", 0.5)).toEqual({ ok: true, value: 0.5 });
    // Only the verdict and the suffix are pinned: the value is printed with JSON.stringify,
    // which renders NaN and Infinity as "null" (see the report).
    for (const raw of [NaN, Infinity, -Infinity]) {
      const parsed = parseConfigValue("MIN_NOTIONAL_USD", raw);
      expect(parsed.ok).toBe(false);
      expect(!parsed.ok && parsed.problem).toMatch(/ is not a finite number$/);
    }
    expect(parseConfigValue("MIN_NOTIONAL_USD", -2)).toEqual({ ok: false, problem: "-2 is negative" });
    expect(parseConfigValue("MIN_NOTIONAL_USD", null)).toEqual({ ok: false, problem: "null is not a number" });
    expect(parseConfigValue("MIN_NOTIONAL_USD", true)).toEqual({ ok: false, problem: "true is not a number" });
    expect(parseConfigValue("MIN_NOTIONAL_USD", [25])).toEqual({ ok: false, problem: "[25] is not a number" });
  });

  test("integer keys take whole numbers only", () => {
    expect(parseConfigValue("MIN_HOLD_SECONDS", "300")).toEqual({ ok: true, value: 300 });
    expect(parseConfigValue("MIN_HOLD_SECONDS", "300.0")).toEqual({ ok: true, value: 300 });
    expect(parseConfigValue("MIN_HOLD_SECONDS", "0")).toEqual({ ok: true, value: 0 });
    expect(parseConfigValue("MIN_HOLD_SECONDS", "299.5")).toEqual({ ok: false, problem: "299.5 is not a whole number" });
    expect(parseConfigValue("MAX_TRADES_10MIN", 3.2)).toEqual({ ok: false, problem: "3.2 is not a whole number" });
    expect(parseConfigValue("MAX_TRADES_10MIN", 4)).toEqual({ ok: true, value: 4 });
    // Non-integer keys take fractions.
    expect(parseConfigValue("MIN_R_TREND", "2.75")).toEqual({ ok: true, value: 2.75 });
  });

  test("lists from strings: split on commas, trimmed, empty items dropped, deduplicated", () => {
    expect(parseConfigValue("ALLOWED_MODELS_TREND", "NHiTS, PatchTST")).toEqual({ ok: true, value: ["NHiTS", "PatchTST"] });
    expect(parseConfigValue("ALLOWED_MODELS_TREND", " a ,b,, a,b ,c")).toEqual({ ok: true, value: ["a", "b", "c"] });
    expect(parseConfigValue("ALLOWED_MODELS_TREND", "TFT")).toEqual({ ok: true, value: ["TFT"] });
  });

  test("lists from arrays: deduplicated, a fresh array", () => {
    const input = ["XGBoost", "LightGBM", "XGBoost"];
    const parsed = parseConfigValue("ALLOWED_MODELS_RANGE", input);
    expect(parsed).toEqual({ ok: true, value: ["XGBoost", "LightGBM"] });
    expect(parsed.ok && parsed.value).not.toBe(input);
    expect(input).toEqual(["XGBoost", "LightGBM", "XGBoost"]);
  });

  test("bad model names and non-lists are rejected, naming the first bad item", () => {
    expect(parseConfigValue("ALLOWED_MODELS_TREND", "NHiTS,Patch TST,x y")).toEqual({
      ok: false,
      problem: `"Patch TST" is not a model name`,
    });
    expect(parseConfigValue("ALLOWED_MODELS_TREND", `NHiTS,${"M".repeat(65)}`)).toEqual({
      ok: false,
      problem: `"${"M".repeat(65)}" is not a model name`,
    });
    expect(parseConfigValue("ALLOWED_MODELS_TREND", "M".repeat(64))).toEqual({ ok: true, value: ["M".repeat(64)] });
    expect(parseConfigValue("ALLOWED_MODELS_TREND", "NHiTS;PatchTST")).toEqual({
      ok: false,
      problem: `"NHiTS;PatchTST" is not a model name`,
    });
    expect(parseConfigValue("ALLOWED_MODELS_TREND", ["NHiTS", 42])).toEqual({ ok: false, problem: "42 is not a model name" });
    expect(parseConfigValue("ALLOWED_MODELS_TREND", ["NHiTS", null])).toEqual({ ok: false, problem: "null is not a model name" });
    expect(parseConfigValue("ALLOWED_MODELS_TREND", ["NHiTS", ""])).toEqual({ ok: false, problem: `"" is not a model name` });
    expect(parseConfigValue("ALLOWED_MODELS_TREND", 5)).toEqual({
      ok: false,
      problem: "expected a comma-separated list of model names",
    });
    expect(parseConfigValue("ALLOWED_MODELS_TREND", { a: 1 })).toEqual({
      ok: false,
      problem: "expected a comma-separated list of model names",
    });
  });
});

describe("overrideConfig", () => {
  test("valid overrides apply, typed or as strings; the result is a new object", () => {
    const base = defaults();
    const result = overrideConfig(base, { MIN_NOTIONAL_USD: 50, EDGE_MULTIPLIER: "2.5", ALLOWED_MODELS_TREND: ["TFT", "TFT"] });
    expect(result.problems).toEqual([]);
    expect(result.config).toEqual({ ...defaults(), MIN_NOTIONAL_USD: 50, EDGE_MULTIPLIER: 2.5, ALLOWED_MODELS_TREND: ["TFT"] });
    expect(result.config).not.toBe(base);
  });

  test("an empty override gives a copy equal to the base", () => {
    const base = defaults();
    const result = overrideConfig(base, {});
    expect(result).toEqual({ config: defaults(), problems: [] });
    expect(result.config).not.toBe(base);
  });

  test("every problem is reported, in order, and the config is null", () => {
    const result = overrideConfig(defaults(), {
      MIN_NOTIONAL_USD: -1,
      MIN_NOTIONAL_UDS: 30,
      EDGE_MULTIPLIER: 2, // valid, but the whole override is still rejected
      TELEGRAM_CHAT_ID: "1",
      MAX_TRADES_10MIN: 2.5,
      FEES_BPS: "1e309",
      ALLOWED_MODELS_LOW_VOL: ["ok", "not ok"],
    });
    expect(result.config).toBeNull();
    expect(result.problems).toHaveLength(6);
    expect(result.problems).toEqual([
      "MIN_NOTIONAL_USD: -1 is negative",
      "MIN_NOTIONAL_UDS: unknown gate variable (did you mean MIN_NOTIONAL_USD?)",
      "TELEGRAM_CHAT_ID: unknown gate variable",
      "MAX_TRADES_10MIN: 2.5 is not a whole number",
      `FEES_BPS: "1e309" is not a finite number`,
      `ALLOWED_MODELS_LOW_VOL: "not ok" is not a model name`,
    ]);
  });

  test("one problem is enough to reject everything", () => {
    const result = overrideConfig(defaults(), { MIN_NOTIONAL_USD: 50, FEES_BPS: "x" });
    expect(result).toEqual({ config: null, problems: [`FEES_BPS: "x" is not a number`] });
  });

  test("the base is left unchanged, whether the override succeeds or fails", () => {
    const base = defaults();
    const before = structuredClone(base);
    const ok = overrideConfig(base, { MIN_NOTIONAL_USD: 99, ALLOWED_MODELS_TREND: "A,B" });
    expect(ok.config?.MIN_NOTIONAL_USD).toBe(99);
    expect(base).toEqual(before);
    const bad = overrideConfig(base, { MIN_NOTIONAL_USD: 77, FEES_BPS: -3 });
    expect(bad.config).toBeNull();
    expect(base).toEqual(before);
  });
});

describe("defaults cannot be changed through a loaded config", () => {
  test("a list holding undefined is not a model list", () => {
    expect(parseConfigValue("ALLOWED_MODELS_TREND", ["XGBoost", undefined])).toEqual({
      ok: false,
      problem: "undefined is not a model name",
    });
  });

  test("the default model lists are frozen, so a loaded config cannot alter them", () => {
    const loaded = loadGateConfig({ env: {} });
    expect(() => loaded.config.ALLOWED_MODELS_TREND.push("Injected")).toThrow();
    expect(DEFAULT_CONFIG.ALLOWED_MODELS_TREND).toEqual(["NHiTS", "PatchTST"]);
    expect(loadGateConfig({ env: {} }).hash).toBe(DEFAULT_HASH);
  });

  test("the order of a model list does not change the hash", () => {
    expect(configHash({ ...DEFAULT_CONFIG, ALLOWED_MODELS_TREND: ["PatchTST", "NHiTS"] })).toBe(DEFAULT_HASH);
  });
});

describe("abbreviated keys and repeats", () => {
  test("keys cut short or 3 edits from a real one with the same start are typos, not warnings", () => {
    expect(closestConfigKey("MIN_NOTIONAL")).toBe("MIN_NOTIONAL_USD");
    expect(closestConfigKey("MAX_TRADES")).toBe("MAX_TRADES_10MIN");
    expect(closestConfigKey("EDGE_MULT")).toBe("EDGE_MULTIPLIER");
    expect(closestConfigKey("MIN_HOLD_SECS")).toBe("MIN_HOLD_SECONDS");
    expect(closestConfigKey("MIN_NOTIONAL_XYZ")).toBe("MIN_NOTIONAL_USD"); // 3 edits, same start
    expect(closestConfigKey("TELEGRAM_CHAT_ID")).toBeNull();
    expect(closestConfigKey("MIN")).toBeNull();
  });
});
