// The settings engine every program shares (hub, agent, fleet simulator,
// `hub token create`). A program lists its settings once in a table: flag,
// environment variable, value check, default, whether it is a secret, help.
// From that table come the command-line options, the --help rows, the "did
// you mean" for a misspelt variable and the start-up description with secrets
// masked, so none of them can drift from the parser. Values are given as
// text from layers of rising precedence (an env file, the environment, flags);
// every given value is checked, also one that a later layer overrides, and
// every problem names where the value came from.
import type { ParseArgsOptionsConfig } from "node:util";
import { readCommandLine, UsageError } from "./command-line.ts";
import { closest } from "./edit-distance.ts";
import { parseEnvText } from "./env-file.ts";

/** A value as checked: the typed value, or a problem that does not repeat a secret. */
export type Checked<T> = { value: T } | { problem: string };

export interface Setting<S, K extends keyof S = keyof S> {
  key: K;
  /** The long flag without its dashes: "hub-url" is given as --hub-url. */
  flag: string;
  /** The environment variable; absent for a setting given by flag only. */
  env?: string;
  /** Placeholder for the value in --help. A setting without one is a switch: the bare flag means "true". */
  value?: string;
  /** Text checked like a given value; absent: the program computes a default (or the setting is required). */
  default?: string;
  help: string;
  /** Masked in the description; its checks never repeat the value. */
  secret?: boolean;
  parse(raw: string): Checked<S[K]>;
}

/** One row per setting of S. */
export type SettingsTable<S> = readonly { [K in keyof S]: Setting<S, K> }[keyof S][];

/** A value as given, and where: "--flag", "VARIABLE", or "file:line: VARIABLE". */
export interface Given {
  raw: string;
  source: string;
}
export type GivenValues<S> = Map<keyof S, Given>;

/** Edits a misspelt variable may be away from a real one and still be suggested. */
const SUGGEST_WITHIN = 3;

/** The table's flags as parseArgs options. */
export function commandLineOptions<S>(table: SettingsTable<S>): ParseArgsOptionsConfig {
  return Object.fromEntries(table.map((s) => [s.flag, { type: s.value === undefined ? "boolean" : "string" }]));
}

/** Values given as flags; throws UsageError (one line) or HelpRequested as readCommandLine does. */
export function fromFlags<S>(table: SettingsTable<S>, args: string[]): GivenValues<S> {
  const { values } = readCommandLine(args, commandLineOptions(table));
  const given: GivenValues<S> = new Map();
  for (const setting of table) {
    const value = values[setting.flag];
    if (value !== undefined) given.set(setting.key, { raw: String(value), source: `--${setting.flag}` });
  }
  return given;
}

/** Values given as environment variables; variables not in the table are left alone. */
export function fromEnvironment<S>(table: SettingsTable<S>, env: Record<string, string | undefined>): GivenValues<S> {
  const given: GivenValues<S> = new Map();
  for (const setting of table) {
    const raw = setting.env === undefined ? undefined : env[setting.env];
    if (raw !== undefined) given.set(setting.key, { raw, source: setting.env! });
  }
  return given;
}

/**
 * Values from a KEY=VALUE env file (lib/env-file.ts). Variables starting with
 * `ours.prefix` that are not in the table are problems ("not <ours.what>"),
 * with a guess at the one meant; others are left alone (systemd passes them on).
 */
export function fromEnvFile<S>(
  table: SettingsTable<S>,
  file: { text: string; path: string },
  ours: { prefix: string; what: string },
  problems: string[],
): GivenValues<S> {
  const { text, path } = file;
  const given: GivenValues<S> = new Map();
  const parsed = parseEnvText(text, path);
  problems.push(...parsed.problems);
  const firstLine = new Map<string, number>();
  const names = table.flatMap((s) => (s.env === undefined ? [] : [s.env]));
  for (const { key, value, line } of parsed.lines) {
    const where = `${path}:${line}: ${key}`;
    const earlier = firstLine.get(key);
    if (earlier !== undefined) {
      problems.push(`${where}: set again (first on line ${earlier}); keep one`);
      continue;
    }
    firstLine.set(key, line);
    const setting = table.find((s) => s.env === key);
    if (setting) given.set(setting.key, { raw: value, source: where });
    else if (key.startsWith(ours.prefix)) {
      const guess = closest(key.toUpperCase(), names, SUGGEST_WITHIN);
      problems.push(`${where}: not ${ours.what} ${guess ? `(did you mean ${guess}?)` : "(see --help)"}`);
    }
  }
  return given;
}

/**
 * Each setting's value: from the last layer that gives it, else its default.
 * A setting without default that no layer gives is left out. Every given value
 * is checked; a bad one adds a problem naming its source and the key to `failed`.
 */
export function resolveSettings<S>(table: SettingsTable<S>, layers: GivenValues<S>[], problems: string[]): { values: Partial<S>; failed: Set<keyof S> } {
  const values: Partial<S> = {};
  const failed = new Set<keyof S>();
  for (const setting of table) {
    let chosen: Checked<S[keyof S]> | undefined;
    for (const given of layers.map((layer) => layer.get(setting.key))) {
      if (!given) continue;
      const checked = setting.parse(given.raw);
      if ("value" in checked) chosen = checked;
      else {
        problems.push(`${given.source}: ${checked.problem}`);
        failed.add(setting.key);
      }
    }
    chosen ??= setting.default === undefined ? undefined : setting.parse(setting.default);
    if (chosen && "value" in chosen) values[setting.key] = chosen.value;
  }
  return { values, failed };
}

/**
 * Settings from the environment and flags (flags win), defaults for the rest;
 * a setting without default must be given. Throws UsageError listing every
 * problem, HelpRequested for --help.
 */
export function parseSettings<S>(table: SettingsTable<S>, args: string[], env: Record<string, string | undefined>): S {
  const flags = fromFlags(table, args);
  const problems: string[] = [];
  const { values, failed } = resolveSettings(table, [fromEnvironment(table, env), flags], problems);
  for (const setting of table) {
    if (values[setting.key] !== undefined || failed.has(setting.key)) continue;
    problems.push(`${setting.env ? `${setting.env} (--${setting.flag})` : `--${setting.flag}`}: required (see --help)`);
  }
  if (problems.length) throw new UsageError(problems);
  return values as S;
}

/** --help rows: flag and placeholder, variable, help, default. */
export function settingsHelp<S>(table: SettingsTable<S>): string[] {
  const flagOf = (s: Setting<S>) => (s.value === undefined ? `--${s.flag}` : `--${s.flag} <${s.value}>`);
  const flagWidth = Math.max(...table.map((s) => flagOf(s).length));
  const envWidth = Math.max(...table.map((s) => (s.env ?? "").length));
  return table.map((s) => {
    const shownDefault = s.default && s.value !== undefined ? ` (default ${s.default})` : "";
    return `  ${flagOf(s).padEnd(flagWidth)}  ${(s.env ?? "").padEnd(envWidth)}  ${s.help}${shownDefault}`;
  });
}

/** The settings for the start-up log line: secrets that are set show as "***", unset ones as they are. */
export function maskSecrets<S extends object>(table: SettingsTable<S>, settings: S): Record<string, unknown> {
  const shown: Record<string, unknown> = { ...(settings as Record<string, unknown>) };
  for (const setting of table) if (setting.secret && settings[setting.key]) shown[setting.key as string] = "***";
  return shown;
}
