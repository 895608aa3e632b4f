// The agent.env contract: the agent's settings, as flash writes them into
// /etc/edgefed/agent.env (which systemd also loads with EnvironmentFile=) and
// as the agent reads them. Both import this table, so a card never carries a
// setting its agent would refuse. Precedence: defaults, then the env file, then
// the process environment, then flags. The engine (lib/settings.ts) derives
// the parser, --help and the masked start-up description from the table.
// Parsing is pure (file reading and the host name are injected);
// agent/check-config.ts looks at the disk for what start-up needs.
import { readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { UsageError } from "../lib/command-line.ts";
import { httpUrl, nonNegative, orOff, path, port, positive, token, wholeNumber, yesNo } from "../lib/setting-values.ts";
import {
  fromEnvFile,
  fromEnvironment,
  fromFlags,
  maskSecrets,
  resolveSettings,
  settingsHelp,
  type Checked,
  type Given,
  type GivenValues,
  type SettingsTable,
} from "../lib/settings.ts";
import { isNodeId } from "./topics.ts";

export interface AgentSettings {
  /** The hub's http(s) URL; "" only when `offline`. */
  hubUrl: string;
  /**
   * The CA certificate file (PEM) the hub's HTTPS and MQTTS certificates must
   * chain to; the only one trusted (not the system store). flash writes it
   * next to agent.env when the hub has one. "": the system store (an https hub with a public certificate).
   */
  hubCa: string;
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
   * The local intent API's Unix socket, mode 0660 with the agent's group (the
   * unit makes that edgefed-strategy): processes in the group may post
   * intents, others may not. null: none.
   */
  apiSocket: string | null;
  /**
   * The local intent API on TCP, off (null) unless given. Always bound to
   * 127.0.0.1 (deliberately no host setting: strategy processes run on the Pi
   * itself, nothing off it may reach the API), and every request needs the
   * bearer token in `apiTokenFile`.
   */
  apiPort: number | null;
  /** The TCP API's bearer token: read from this file, or generated into it (0640) when missing. */
  apiTokenFile: string;
  outboxMax: number;
  /** 0: off; else seconds offline after which the kernel HOLDs everything (reason OFFLINE). */
  offlineHoldAfterS: number;
  journalRetentionDays: number;
  /** Work packages run at once (issue 15), said in the birth; 0: none. */
  workSlots: number;
  /** Cap of the jittered reconnect backoff. */
  reconnectMaxS: number;
  /** Simulation only: never contact a hub. */
  offline: boolean;
  /** The env file consulted, and whether it was read ("missing"/"unreadable" only happen for the default one). */
  envFile: string;
  envFileStatus: "read" | "missing" | "unreadable";
}

/** What the table holds: all but the env file's status, which reading it finds out. */
type Tabled = Omit<AgentSettings, "envFileStatus">;

export const DEFAULT_ENV_FILE = "/etc/edgefed/agent.env";
/** In the unit's RuntimeDirectory (/run/edgefed, group edgefed-strategy, 0750). */
export const DEFAULT_API_SOCKET = "/run/edgefed/agent.sock";
export const DEFAULT_API_TOKEN_FILE = "/run/edgefed/api-token";

const MAX_CAPABILITIES = 64;
const CAPABILITY_PATTERN = /^[a-z0-9][a-z0-9:._-]{0,63}$/;
/** Host names that say nothing about which machine this is. */
const ANONYMOUS_HOSTS = new Set(["localhost", "localhost-localdomain"]);

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

function nodeId(raw: string): Checked<string> {
  if (isNodeId(raw)) return { value: raw };
  const guess = normaliseNodeId(raw);
  const hint = guess ? ` (did you mean ${JSON.stringify(guess)}?)` : " (unset it to use the host name)";
  return { problem: `${JSON.stringify(raw)} is not a node id: lowercase letters, digits and -, starting with a letter or digit, at most 63 characters${hint}` };
}

function capabilities(raw: string): Checked<string[]> {
  if (raw.trim() === "") return { value: [] };
  const items = raw.split(",").map((s) => s.trim());
  const emptyAt = items.indexOf("");
  if (emptyAt !== -1) return { problem: `${JSON.stringify(raw)}: entry ${emptyAt + 1} is empty` };
  const wrong = items.find((c) => !CAPABILITY_PATTERN.test(c));
  if (wrong !== undefined) {
    return { problem: `${JSON.stringify(wrong)} is not a capability: lowercase letters, digits and : . _ -, starting with a letter or digit, at most 64 characters` };
  }
  const unique = [...new Set(items)];
  if (unique.length > MAX_CAPABILITIES) return { problem: `${unique.length} capabilities, at most ${MAX_CAPABILITIES}` };
  return { value: unique };
}

/** Linux's sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

function socketPath(raw: string): Checked<string> {
  const checked = path(raw);
  if ("problem" in checked) return checked;
  const bytes = Buffer.byteLength(raw);
  if (bytes > MAX_SOCKET_PATH_BYTES) return { problem: `${JSON.stringify(raw)} is ${bytes} bytes long; a Unix socket's path holds at most ${MAX_SOCKET_PATH_BYTES}` };
  return checked;
}

/** The settings, in --help order. The node id has no default here: it comes from the host name. */
const AGENT_SETTINGS: SettingsTable<Tabled> = [
  { key: "envFile", env: "EDGEFED_AGENT_ENV", flag: "env-file", parse: path, value: "FILE", default: DEFAULT_ENV_FILE, help: "KEY=VALUE file read first (the environment and flags win over it); the default may be absent" },
  { key: "hubUrl", env: "EDGEFED_HUB_URL", flag: "hub-url", parse: httpUrl, value: "URL", default: "", help: "the hub, http:// or https:// (required unless --offline)" },
  { key: "hubCa", env: "EDGEFED_HUB_CA", flag: "hub-ca", parse: (raw) => (raw === "" ? { value: raw } : path(raw)), value: "FILE", default: "", help: "the hub's CA certificate (PEM), the only one trusted for its HTTPS and MQTTS; empty: the system's store" },
  { key: "enrollToken", env: "EDGEFED_ENROLL_TOKEN", flag: "enroll-token", parse: token, value: "TOKEN", default: "", help: "enrollment token, needed until the node is registered (prefer the variable: flags show in ps)", secret: true },
  { key: "nodeId", env: "EDGEFED_NODE_ID", flag: "node-id", parse: nodeId, value: "ID", help: "node id, [a-z0-9][a-z0-9-]{0,62} (default: the host name, lowercased, other characters turned into -)" },
  { key: "dataDir", env: "EDGEFED_DATA_DIR", flag: "data-dir", parse: path, value: "DIR", default: "/var/lib/edgefed", help: "identity, journal and outbox (SQLite)" },
  { key: "kernelConfig", env: "EDGEFED_KERNEL_CONFIG", flag: "kernel-config", parse: path, value: "FILE", default: "/etc/edgefed/core_gates.env", help: "gate config (core_gates.env)" },
  { key: "heartbeatS", env: "EDGEFED_HEARTBEAT_S", flag: "heartbeat-s", parse: nonNegative, value: "S", default: "0", help: "heartbeat interval; 0: as the hub says" },
  { key: "capabilities", env: "EDGEFED_CAPABILITIES", flag: "capabilities", parse: capabilities, value: "LIST", default: "kernel", help: "comma-separated capabilities advertised to the hub (at most 64)" },
  { key: "apiSocket", env: "EDGEFED_API_SOCKET", flag: "api-socket", parse: orOff(socketPath), value: "FILE", default: DEFAULT_API_SOCKET, help: "local intent API's Unix socket, mode 0660, the agent's group; empty: none" },
  { key: "apiPort", env: "EDGEFED_API_PORT", flag: "api-port", parse: orOff(port), value: "PORT", default: "", help: "local intent API also on 127.0.0.1:PORT, with a bearer token (0 picks a free port); empty: off" },
  { key: "apiTokenFile", env: "EDGEFED_API_TOKEN_FILE", flag: "api-token-file", parse: path, value: "FILE", default: DEFAULT_API_TOKEN_FILE, help: "the TCP API's bearer token, generated (0640) when missing" },
  { key: "outboxMax", env: "EDGEFED_OUTBOX_MAX", flag: "outbox-max", parse: wholeNumber(100), value: "N", default: "100000", help: "messages kept while offline (oldest heartbeats dropped first, verdicts never)" },
  { key: "offlineHoldAfterS", env: "EDGEFED_OFFLINE_HOLD_AFTER_S", flag: "offline-hold-after-s", parse: nonNegative, value: "S", default: "0", help: "HOLD every intent after this long offline; 0: never" },
  { key: "journalRetentionDays", env: "EDGEFED_JOURNAL_RETENTION_DAYS", flag: "journal-retention-days", parse: wholeNumber(1), value: "DAYS", default: "30", help: "intent journal kept this long by compaction" },
  { key: "workSlots", env: "EDGEFED_WORK_SLOTS", flag: "work-slots", parse: wholeNumber(0), value: "N", default: "2", help: "work packages from the hub run at once (said in the birth; 0: none)" },
  { key: "reconnectMaxS", env: "EDGEFED_RECONNECT_MAX_S", flag: "reconnect-max-s", parse: positive, value: "S", default: "60", help: "longest wait between reconnect attempts" },
  { key: "offline", env: "EDGEFED_OFFLINE", flag: "offline", parse: yesNo, default: "false", help: "simulation only: no hub, no registration (variable: 1/0, true/false, yes/no, on/off)" },
];

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

/**
 * Settings from the env file, the environment and flags, in rising precedence.
 * Every given value is checked, also one that a later source overrides.
 * Throws UsageError listing every problem (a command-line mistake alone, as
 * one line), HelpRequested for --help. `args` holds options only (the CLI
 * takes `check-config` off first).
 */
export function parseAgentSettings(args: string[], env: Record<string, string | undefined>, options: ParseOptions = {}): AgentSettings {
  const flags = fromFlags(AGENT_SETTINGS, args);
  const fromEnv = fromEnvironment(AGENT_SETTINGS, env);
  const problems: string[] = [];
  const envFile = readEnvFile(flags.get("envFile") ?? fromEnv.get("envFile"), options.readFile ?? readFileOrNull, problems);
  // The env file is chosen before it is read; its own values come from the environment or a flag.
  flags.delete("envFile");
  fromEnv.delete("envFile");

  const { values, failed } = resolveSettings(AGENT_SETTINGS, [envFile.given, fromEnv, flags], problems);

  const anyNodeIdGiven = [envFile.given, fromEnv, flags].some((m) => m.has("nodeId"));
  if (!anyNodeIdGiven) {
    const fromHost = nodeIdFromHostname(options.hostname ?? osHostname);
    if ("problem" in fromHost) problems.push(fromHost.problem);
    else values.nodeId = fromHost.value;
  }

  if (values.offline !== true && !values.hubUrl && !failed.has("hubUrl")) {
    const why = envFile.status === "unreadable" ? `; ${envFile.path} could not be read: ${envFile.why}` : "";
    problems.push(`EDGEFED_HUB_URL: required: the hub's http(s) URL (or --hub-url; --offline runs in simulation only)${why}`);
  }

  if (values.hubCa && values.hubUrl && !values.hubUrl.startsWith("https://")) {
    problems.push("EDGEFED_HUB_CA: a pinned hub CA needs an https:// EDGEFED_HUB_URL (the enrollment token would cross the network in clear)");
  }

  if (problems.length) throw new UsageError(problems);
  return { ...(values as Tabled), envFile: envFile.path, envFileStatus: envFile.status };
}

/** The env file named by `given` (a flag or EDGEFED_AGENT_ENV), else the default one, which may be absent. */
function readEnvFile(given: Given | undefined, readFile: (path: string) => string | null, problems: string[]) {
  const result = { path: DEFAULT_ENV_FILE, status: "missing" as AgentSettings["envFileStatus"], why: "", given: new Map() as GivenValues<Tabled> };
  if (given) {
    const checked = path(given.raw);
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
  result.given = fromEnvFile(AGENT_SETTINGS, { text, path: result.path }, { prefix: "EDGEFED_", what: "an agent setting" }, problems);
  const nested = result.given.get("envFile");
  if (nested) {
    problems.push(`${nested.source}: only read from the environment or --env-file, not from the env file itself`);
    result.given.delete("envFile");
  }
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
  return [
    "usage: edgefed-agent [options]                run the agent",
    "       edgefed-agent check-config [options]   check the settings and what start-up needs on disk, then exit",
    "",
    `Settings come from the env file, then the environment, then flags (each wins over the one before).`,
    "",
    "options (flag, environment variable):",
    ...settingsHelp(AGENT_SETTINGS),
    "  -h, --help",
  ].join("\n");
}

/** One agent.env line, `VARIABLE=value`, named by the table (flash writes agent.env with these). */
export function agentEnvLine(key: keyof Tabled, value: string): string {
  return `${AGENT_SETTINGS.find((s) => s.key === key)!.env}=${value}`;
}

/** Settings with secrets masked, for the start-up log line; an unset secret shows as "". */
export function describeAgentSettings(settings: AgentSettings): Record<string, unknown> {
  return { ...maskSecrets(AGENT_SETTINGS, settings), capabilities: [...settings.capabilities] };
}
