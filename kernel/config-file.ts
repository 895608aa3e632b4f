// Loads the effective gate config: defaults, then core_gates.env, then the
// process environment (which wins, as with systemd's EnvironmentFile=).
import { readFileSync } from "node:fs";
import {
  CONFIG_KEYS,
  DEFAULT_CONFIG,
  closestConfigKey,
  configHash,
  isConfigKey,
  parseConfigValue,
  type ConfigKey,
  type GateConfig,
} from "./config.ts";

/** Start-up must stop: every problem names its key and where it came from. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid gate config:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

export interface LoadedConfig {
  config: GateConfig;
  hash: string;
  /** Where each non-default value came from: "file:line" or "environment". */
  sources: Partial<Record<ConfigKey, string>>;
  /** Unknown keys that are not near any real one (kept for operators' other settings). */
  warnings: string[];
}

interface EnvLine {
  key: string;
  value: string;
  line: number;
}

/**
 * Parses KEY=VALUE lines the way systemd's EnvironmentFile= does, so one file
 * serves both: `#` and `;` start comment lines, an optional `export ` prefix,
 * values optionally in matching quotes. There are no inline comments: systemd
 * would pass `25 # note` through as the value, and so do we (it then fails as
 * "not a number" instead of meaning something else under systemd).
 */
export function parseEnvText(text: string, fileName: string): { lines: EnvLine[]; problems: string[] } {
  const lines: EnvLine[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) {
      problems.push(`${fileName}:${index + 1}: expected KEY=VALUE, got ${JSON.stringify(line.slice(0, 80))}`);
      return;
    }
    let value = match[2]!;
    const quoted = /^(['"])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2]!;
    lines.push({ key: match[1]!, value, line: index + 1 });
  });
  return { lines, problems };
}

export function loadGateConfig(options: { file?: string; env?: Record<string, string | undefined> } = {}): LoadedConfig {
  const config: GateConfig = { ...DEFAULT_CONFIG };
  const sources: LoadedConfig["sources"] = {};
  const problems: string[] = [];
  const warnings: string[] = [];
  const set = (key: ConfigKey, raw: string, where: string) => {
    const parsed = parseConfigValue(key, raw);
    if (!parsed.ok) return problems.push(`${where}: ${key}: ${parsed.problem}`);
    (config as Record<ConfigKey, unknown>)[key] = parsed.value;
    sources[key] = where;
  };

  if (options.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.file, "utf8");
    } catch (error) {
      throw new ConfigError([`${options.file}: cannot read: ${(error as Error).message}`]);
    }
    const parsed = parseEnvText(text, options.file);
    problems.push(...parsed.problems);
    const firstLine = new Map<string, number>();
    for (const { key, value, line } of parsed.lines) {
      const where = `${options.file}:${line}`;
      const earlier = firstLine.get(key);
      if (earlier !== undefined) problems.push(`${where}: ${key}: set again (first on line ${earlier}); keep one`);
      else firstLine.set(key, line);
      if (isConfigKey(key)) {
        set(key, value, where);
        continue;
      }
      const guess = closestConfigKey(key);
      if (guess) problems.push(`${where}: ${key}: unknown gate variable (did you mean ${guess}?)`);
      else warnings.push(`${where}: ${key}: not a gate variable, ignored`);
    }
  }

  const env = options.env ?? process.env;
  for (const key of CONFIG_KEYS) {
    const raw = env[key];
    if (raw !== undefined) set(key, raw, "environment");
  }

  if (problems.length) throw new ConfigError(problems);
  return { config, hash: configHash(config), sources, warnings };
}
