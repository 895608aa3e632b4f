// Agent settings: defaults, then the env file (/etc/edgefed/agent.env, the one
// flash writes and systemd also loads with EnvironmentFile=), then the process
// environment, then flags. One table describes them, so `--help`, the parser
// and the start-up log line cannot drift (the hub's settings.ts works the same).
// Parsing is pure (file reading and the host name are injected); check-config.ts
// looks at the disk for what start-up needs.
import { readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { editDistance } from "../lib/edit-distance.ts";
import { parseEnvText } from "../lib/env-file.ts";
import { isNodeId } from "../protocol/topics.ts";

export interface AgentSettings {
  /** The hub's http(s) URL; "" only when `offline`. */
  hubUrl: string;
  /** Needed only until the node is registered. Secret: masked by describeAgentSettings. */
  enrollToken: string;
  nodeId: string;
  dataDir: string;
  /** core_gates.env; checkAgentConfig loads it. */
  kernelConfig: string;
  /** 0: the interval the hub gives at registration; above 0 overrides it. */
  heartbeatS: number;
  /** Advertised in `birth`: valid, duplicates removed, order kept. */
  capabilities: string[];
  /**
   * The local intent API's port. The API is always bound to 127.0.0.1 and there
   * is deliberately no host setting: it is for strategy processes on the Pi
   * itself, and it has no authentication, so nothing off the Pi may reach it.
   */
  apiPort: number;
  outboxMax: number;
  /** 0: off; else seconds offline after which the kernel HOLDs everything (reason OFFLINE). */
  offlineHoldAfterS: number;
  journalRetentionDays: number;
  /** Cap of the jittered reconnect backoff. */
  reconnectMaxS: number;
  /** Simulation only: never contact a hub. */
  offline: boolean;
  /** The env file consulted, and whether it was read ("missing"/"unreadable" only happen for the default one). */
  envFile: string;
  envFileStatus: "read" | "missing" | "unreadable";
}

type Key = Exclude<keyof AgentSettings, "envFileStatus">;
type Kind = "path" | "httpUrl" | "token" | "nodeId" | "port" | "nonNegative" | "positive" | "integer" | "capabilities" | "boolean";

interface SettingSpec {
  key: Key;
  env: string;
  flag: string;
  kind: Kind;
  /** Placeholder for the value in --help. */
  value: string;
  /** undefined: computed (the node id, from the host name). */
  default?: string;
  help: string;
  secret?: boolean;
  /** integer kind: the smallest value allowed. */
  min?: number;
}

export const DEFAULT_ENV_FILE = "/etc/edgefed/agent.env";

const SPECS: SettingSpec[] = [
  { key: "envFile", env: "EDGEFED_AGENT_ENV", flag: "--env-file", kind: "path", value: "FILE", default: DEFAULT_ENV_FILE, help: "KEY=VALUE file read first (the environment and flags win over it); the default may be absent" },
  { key: "hubUrl", env: "EDGEFED_HUB_URL", flag: "--hub-url", kind: "httpUrl", value: "URL", default: "", help: "the hub, http:// or https:// (required unless --offline)" },
  { key: "enrollToken", env: "EDGEFED_ENROLL_TOKEN", flag: "--enroll-token", kind: "token", value: "TOKEN", default: "", help: "enrollment token, needed until the node is registered (prefer the variable: flags show in ps)", secret: true },
  { key: "nodeId", env: "EDGEFED_NODE_ID", flag: "--node-id", kind: "nodeId", value: "ID", help: "node id, [a-z0-9][a-z0-9-]{0,62} (default: the host name, lowercased, other characters turned into -)" },
  { key: "dataDir", env: "EDGEFED_DATA_DIR", flag: "--data-dir", kind: "path", value: "DIR", default: "/var/lib/edgefed", help: "identity, journal and outbox (SQLite)" },
  { key: "kernelConfig", env: "EDGEFED_KERNEL_CONFIG", flag: "--kernel-config", kind: "path", value: "FILE", default: "/etc/edgefed/core_gates.env", help: "gate config (core_gates.env)" },
  { key: "heartbeatS", env: "EDGEFED_HEARTBEAT_S", flag: "--heartbeat-s", kind: "nonNegative", value: "S", default: "0", help: "heartbeat interval; 0: as the hub says" },
  { key: "capabilities", env: "EDGEFED_CAPABILITIES", flag: "--capabilities", kind: "capabilities", value: "LIST", default: "kernel", help: "comma-separated capabilities advertised to the hub (at most 64)" },
  { key: "apiPort", env: "EDGEFED_API_PORT", flag: "--api-port", kind: "port", value: "PORT", default: "8787", help: "local intent API port, on 127.0.0.1 only (0 picks a free one)" },
  { key: "outboxMax", env: "EDGEFED_OUTBOX_MAX", flag: "--outbox-max", kind: "integer", min: 100, value: "N", default: "100000", help: "messages kept while offline (oldest heartbeats dropped first, verdicts never)" },
  { key: "offlineHoldAfterS", env: "EDGEFED_OFFLINE_HOLD_AFTER_S", flag: "--offline-hold-after-s", kind: "nonNegative", value: "S", default: "0", help: "HOLD every intent after this long offline; 0: never" },
  { key: "journalRetentionDays", env: "EDGEFED_JOURNAL_RETENTION_DAYS", flag: "--journal-retention-days", kind: "integer", min: 1, value: "DAYS", default: "30", help: "intent journal kept this long by compaction" },
  { key: "reconnectMaxS", env: "EDGEFED_RECONNECT_MAX_S", flag: "--reconnect-max-s", kind: "positive", value: "S", default: "60", help: "longest wait between reconnect attempts" },
  { key: "offline", env: "EDGEFED_OFFLINE", flag: "--offline", kind: "boolean", value: "", default: "false", help: "simulation only: no hub, no registration (variable: 1/0, true/false, yes/no, on/off)" },
];

const MAX_CAPABILITIES = 64;
const CAPABILITY_PATTERN = /^[a-z0-9][a-z0-9:._-]{0,63}$/;
/** Host names that say nothing about which machine this is. */
const ANONYMOUS_HOSTS = new Set(["localhost", "localhost-localdomain"]);

/** Every problem found, each naming the flag or variable (and the env file line) it comes from. */
export class AgentSettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "AgentSettingsError";
  }
}

/** A host name as a node id: lowercase, other characters to "-", runs collapsed, ends trimmed, cut to 63; null if nothing is left. */
export function normaliseNodeId(hostname: string): string | null {
  const id = hostname
    .replace(/[A-Z]/g, (c) => c.toLowerCase()) // ASCII only: the Kelvin sign (U+212A) must not turn into "k"
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return isNodeId(id) ? id : null;
}

type Parsed = string | number | boolean | string[];

function parseValue(spec: SettingSpec, raw: string): { value: Parsed } | { problem: string } {
  const bad = (problem: string) => ({ problem });
  const shown = JSON.stringify(raw);
  switch (spec.kind) {
    case "path":
      if (raw === "") return bad("must not be empty");
      if (/[\0\n\r]/.test(raw)) return bad(`${shown} is not a path`);
      return { value: raw };
    case "httpUrl": {
      if (raw === "") return { value: raw };
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        return bad(`${shown} is not an http(s) URL`);
      }
      // Credentials would end up in logs; the hub URL needs none (the enrollment token is separate).
      if (url.username !== "" || url.password !== "") return bad("must not carry a user name or password");
      if (!["http:", "https:"].includes(url.protocol) || url.hostname === "" || /\s/.test(raw)) return bad(`${shown} is not an http(s) URL`);
      if (url.search !== "" || url.hash !== "") return bad(`${shown}: a hub URL has no ?query or #fragment`);
      return { value: raw };
    }
    case "token":
      // Never echo a secret, not even a malformed one.
      if (/[\s\x00-\x1f\x7f]/.test(raw)) return bad("contains spaces or control characters (a paste error?); value not shown");
      return { value: raw };
    case "nodeId": {
      if (isNodeId(raw)) return { value: raw };
      const guess = normaliseNodeId(raw);
      const hint = guess ? ` (did you mean ${JSON.stringify(guess)}?)` : " (unset it to use the host name)";
      return bad(`${shown} is not a node id: lowercase letters, digits and -, starting with a letter or digit, at most 63 characters${hint}`);
    }
    case "port":
      if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) return bad(`${shown} is not a port (0-65535)`);
      return { value: Number(raw) };
    case "nonNegative":
    case "positive": {
      const n = Number(raw);
      const ok = /^\d+(\.\d+)?$/.test(raw) && Number.isFinite(n) && (spec.kind === "nonNegative" || n > 0);
      if (!ok) return bad(`${shown} is not a number ${spec.kind === "positive" ? "above 0" : "0 or more"}`);
      return { value: n };
    }
    case "integer": {
      const n = Number(raw);
      const min = spec.min ?? 0;
      if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min) return bad(`${shown} is not a whole number of at least ${min}`);
      return { value: n };
    }
    case "capabilities": {
      const items = raw.split(",").map((s) => s.trim());
      if (raw.trim() === "") return { value: [] };
      const emptyAt = items.indexOf("");
      if (emptyAt !== -1) return bad(`${shown}: entry ${emptyAt + 1} is empty`);
      const wrong = items.find((c) => !CAPABILITY_PATTERN.test(c));
      if (wrong !== undefined) {
        return bad(`${JSON.stringify(wrong)} is not a capability: lowercase letters, digits and : . _ -, starting with a letter or digit, at most 64 characters`);
      }
      const unique = [...new Set(items)];
      if (unique.length > MAX_CAPABILITIES) return bad(`${unique.length} capabilities, at most ${MAX_CAPABILITIES}`);
      return { value: unique };
    }
    case "boolean": {
      const word = raw.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(word)) return { value: true };
      if (["0", "false", "no", "off", ""].includes(word)) return { value: false };
      return bad(`${shown} is not a yes/no value (1/0, true/false, yes/no, on/off)`);
    }
  }
}

/** One given value and where it came from: "--flag", "VARIABLE", or "file:line: VARIABLE". */
interface Given {
  raw: string;
  source: string;
}

export interface ParseOptions {
  /** The host name for the default node id (default: os.hostname()). */
  hostname?: () => string;
  /** File contents, or null if the file does not exist; throwing means it cannot be read (default: the real file system). */
  readFile?: (path: string) => string | null;
}

function readFileOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** The known variable an unknown EDGEFED_ one in the env file is probably a typo of. */
function closestVariable(name: string): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const spec of SPECS) {
    const distance = editDistance(name.toUpperCase(), spec.env);
    if (distance < bestDistance) [best, bestDistance] = [spec.env, distance];
  }
  return bestDistance <= 3 ? best : null;
}

/** Flags to one value per spec (the last of a repeated flag wins); problems for unknown or incomplete ones. */
function parseFlags(args: string[], problems: string[]): Map<Key, Given> {
  const given = new Map<Key, Given>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--")) {
      problems.push(`${arg}: unexpected argument (see --help)`);
      continue;
    }
    const [flag, inline] = arg.split(/=(.*)/s, 2) as [string, string | undefined];
    const spec = SPECS.find((s) => s.flag === flag);
    if (!spec) {
      problems.push(`${flag}: unknown option (see --help)`);
      if (inline === undefined && args[i + 1] !== undefined && !args[i + 1]!.startsWith("--")) i++; // its value, most likely
      continue;
    }
    let raw = inline;
    if (raw === undefined && spec.kind === "boolean") raw = "true";
    if (raw === undefined) {
      const next = args[i + 1];
      // A missing value must not swallow the next option (`--enroll-token --offline`).
      if (next === undefined || next.startsWith("--")) {
        problems.push(`${flag}: needs a value (write ${flag}=VALUE for one starting with --)`);
        continue;
      }
      raw = next;
      i++;
    }
    given.set(spec.key, { raw, source: flag });
  }
  return given;
}

/** The env file's EDGEFED_ values; other variables are left alone (systemd passes them on to the process). */
function parseEnvFile(text: string, path: string, problems: string[]): Map<Key, Given> {
  const given = new Map<Key, Given>();
  const parsed = parseEnvText(text, path);
  problems.push(...parsed.problems);
  const firstLine = new Map<string, number>();
  for (const { key, value, line } of parsed.lines) {
    const where = `${path}:${line}: ${key}`;
    const earlier = firstLine.get(key);
    if (earlier !== undefined) {
      problems.push(`${where}: set again (first on line ${earlier}); keep one`);
      continue;
    }
    firstLine.set(key, line);
    const spec = SPECS.find((s) => s.env === key);
    if (spec?.key === "envFile") problems.push(`${where}: only read from the environment or --env-file, not from the env file itself`);
    else if (spec) given.set(spec.key, { raw: value, source: where });
    else if (key.startsWith("EDGEFED_")) {
      const guess = closestVariable(key);
      problems.push(`${where}: not an agent setting${guess ? ` (did you mean ${guess}?)` : " (see --help)"}`);
    }
  }
  return given;
}

/**
 * Settings from the env file, the environment and flags, in rising precedence.
 * Every given value is checked, also one that a later source overrides.
 * Throws AgentSettingsError listing every problem. `args` holds options only
 * (the CLI takes `check-config` and `--help` off first).
 */
export function parseAgentSettings(args: string[], env: Record<string, string | undefined>, options: ParseOptions = {}): AgentSettings {
  const problems: string[] = [];
  const flags = parseFlags(args, problems);
  const fromEnv = new Map<Key, Given>();
  for (const spec of SPECS) {
    const raw = env[spec.env];
    if (raw !== undefined) fromEnv.set(spec.key, { raw, source: spec.env });
  }

  const envFile = readEnvFile(flags.get("envFile") ?? fromEnv.get("envFile"), options.readFile ?? readFileOrNull, problems);
  const fromFile = envFile.given;

  const values = new Map<Key, Parsed>();
  const failed = new Set<Key>();
  for (const spec of SPECS) {
    if (spec.key === "envFile") continue;
    let chosen: Parsed | undefined;
    for (const given of [fromFile.get(spec.key), fromEnv.get(spec.key), flags.get(spec.key)]) {
      if (!given) continue;
      const checked = parseValue(spec, given.raw);
      if ("value" in checked) chosen = checked.value;
      else {
        problems.push(`${given.source}: ${checked.problem}`);
        failed.add(spec.key);
      }
    }
    if (chosen === undefined && spec.default !== undefined) {
      const checked = parseValue(spec, spec.default);
      if ("value" in checked) chosen = checked.value;
    }
    if (chosen !== undefined) values.set(spec.key, chosen);
  }

  const anyNodeIdGiven = [fromFile, fromEnv, flags].some((m) => m.has("nodeId"));
  if (!anyNodeIdGiven) {
    const fromHost = nodeIdFromHostname(options.hostname ?? osHostname);
    if ("problem" in fromHost) problems.push(fromHost.problem);
    else values.set("nodeId", fromHost.value);
  }

  if (values.get("offline") !== true && !values.get("hubUrl") && !failed.has("hubUrl")) {
    const why = envFile.status === "unreadable" ? `; ${envFile.path} could not be read: ${envFile.why}` : "";
    problems.push(`EDGEFED_HUB_URL: required: the hub's http(s) URL (or --hub-url; --offline runs in simulation only)${why}`);
  }

  if (problems.length) throw new AgentSettingsError(problems);
  const settings = Object.fromEntries(values) as Omit<AgentSettings, "envFile" | "envFileStatus">;
  return { ...settings, envFile: envFile.path, envFileStatus: envFile.status };
}

/** The env file named by `given` (a flag or EDGEFED_AGENT_ENV), else the default one, which may be absent. */
function readEnvFile(given: Given | undefined, readFile: (path: string) => string | null, problems: string[]) {
  const result = { path: DEFAULT_ENV_FILE, status: "missing" as AgentSettings["envFileStatus"], why: "", given: new Map<Key, Given>() };
  if (given) {
    const checked = parseValue(SPECS.find((s) => s.key === "envFile")!, given.raw);
    if ("problem" in checked) {
      problems.push(`${given.source}: ${checked.problem}`);
      return result;
    }
    result.path = given.raw;
  }
  let text: string | null;
  try {
    text = readFile(result.path);
  } catch (error) {
    result.why = (error as Error).message;
    // The default file may be root's alone (flash writes it 0600): systemd reads it and passes it on as the environment.
    if (given) problems.push(`${given.source}: ${result.path}: cannot read: ${result.why}`);
    else result.status = "unreadable";
    return result;
  }
  if (text === null) {
    if (given) problems.push(`${given.source}: ${result.path}: no such file`);
    return result;
  }
  result.status = "read";
  result.given = parseEnvFile(text, result.path, problems);
  return result;
}

function nodeIdFromHostname(hostname: () => string): { value: string } | { problem: string } {
  const fix = "set EDGEFED_NODE_ID (or --node-id)";
  let host: string;
  try {
    host = hostname();
  } catch (error) {
    return { problem: `EDGEFED_NODE_ID: not set, and the host name cannot be read (${(error as Error).message}); ${fix}` };
  }
  const id = normaliseNodeId(host);
  if (id === null) return { problem: `EDGEFED_NODE_ID: not set, and the host name ${JSON.stringify(host)} gives no node id; ${fix}` };
  if (ANONYMOUS_HOSTS.has(id)) return { problem: `EDGEFED_NODE_ID: not set, and the host name ${JSON.stringify(host)} does not tell nodes apart; ${fix}` };
  return { value: id };
}

export function agentHelp(): string {
  const rows = SPECS.map((s) => {
    const flag = s.value ? `${s.flag} <${s.value}>` : s.flag;
    const shownDefault = s.default !== undefined && s.default !== "" && s.kind !== "boolean" ? ` (default ${s.default})` : "";
    return `  ${flag.padEnd(30)} ${s.env.padEnd(31)} ${s.help}${shownDefault}`;
  });
  return [
    "usage: edgefed-agent [options]                run the agent",
    "       edgefed-agent check-config [options]   check the settings and what start-up needs on disk, then exit",
    "",
    `Settings come from the env file, then the environment, then flags (each wins over the one before).`,
    "",
    "options (flag, environment variable):",
    ...rows,
  ].join("\n");
}

/** Settings with secrets masked, for the start-up log line; an unset secret shows as "". */
export function describeAgentSettings(settings: AgentSettings): Record<string, unknown> {
  const shown: Record<string, unknown> = { ...settings, capabilities: [...settings.capabilities] };
  for (const spec of SPECS) if (spec.secret && settings[spec.key]) shown[spec.key] = "***";
  return shown;
}
