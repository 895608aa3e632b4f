// Loads the effective gate config: defaults, then core_gates.env, then the
// process environment (which wins, as with systemd's EnvironmentFile=).
import { readFileSync } from "node:fs";
import { parseEnvText } from "../lib/env-file.ts";
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
