// Hub settings: every one from the environment (EDGEFED_*) or a flag, flags
// winning. One table describes them, so `--help` and the parser cannot drift.

export interface HubSettings {
  dataDir: string;
  httpHost: string;
  httpPort: number;
  /** External broker URL; empty means run the embedded broker. */
  mqttUrl: string;
  mqttHost: string;
  mqttPort: number;
  mqttUsername: string;
  mqttPassword: string;
  /** The broker URL told to nodes at registration; empty derives it from the request's Host. */
  publicMqttUrl: string;
  adminToken: string;
  watchToken: string;
  heartbeatS: number;
  offlineAfterS: number;
  degradedLoad: number;
  maxBodyBytes: number;
  flushMs: number;
  sweepMs: number;
}

type Kind = "string" | "port" | "positive" | "nonNegative" | "url";
interface SettingSpec {
  key: keyof HubSettings;
  env: string;
  flag: string;
  kind: Kind;
  default: string;
  help: string;
  secret?: boolean;
}

const SPECS: SettingSpec[] = [
  { key: "dataDir", env: "EDGEFED_DATA_DIR", flag: "--data-dir", kind: "string", default: "./data", help: "registry, hub key and admin token" },
  { key: "httpHost", env: "EDGEFED_HTTP_HOST", flag: "--http-host", kind: "string", default: "0.0.0.0", help: "HTTP listen address" },
  { key: "httpPort", env: "EDGEFED_HTTP_PORT", flag: "--http-port", kind: "port", default: "8080", help: "HTTP port (0 picks a free one)" },
  { key: "mqttUrl", env: "EDGEFED_MQTT_URL", flag: "--mqtt-url", kind: "url", default: "", help: "external broker (Mosquitto with dynamic security); empty runs the embedded broker" },
  { key: "mqttHost", env: "EDGEFED_MQTT_HOST", flag: "--mqtt-host", kind: "string", default: "0.0.0.0", help: "embedded broker listen address" },
  { key: "mqttPort", env: "EDGEFED_MQTT_PORT", flag: "--mqtt-port", kind: "port", default: "1883", help: "embedded broker port (0 picks a free one)" },
  { key: "mqttUsername", env: "EDGEFED_MQTT_USERNAME", flag: "--mqtt-username", kind: "string", default: "", help: "external broker: the dynamic-security admin user" },
  { key: "mqttPassword", env: "EDGEFED_MQTT_PASSWORD", flag: "--mqtt-password", kind: "string", default: "", help: "external broker: that user's password (prefer the variable: flags show in ps)", secret: true },
  { key: "publicMqttUrl", env: "EDGEFED_PUBLIC_MQTT_URL", flag: "--public-mqtt-url", kind: "url", default: "", help: "broker URL given to nodes; empty: the host they called the hub by" },
  { key: "adminToken", env: "EDGEFED_ADMIN_TOKEN", flag: "--admin-token", kind: "string", default: "", help: "admin API token (prefer the variable: flags show in ps); empty: generated once into <data-dir>/admin-token", secret: true },
  { key: "watchToken", env: "EDGEFED_WATCH_TOKEN", flag: "--watch-token", kind: "string", default: "", help: "read-only MQTT watcher password on the embedded broker (prefer the variable: flags show in ps); empty: generated once into <data-dir>/watch-token", secret: true },
  { key: "heartbeatS", env: "EDGEFED_HEARTBEAT_S", flag: "--heartbeat-s", kind: "positive", default: "15", help: "heartbeat interval told to nodes" },
  { key: "offlineAfterS", env: "EDGEFED_OFFLINE_AFTER_S", flag: "--offline-after-s", kind: "nonNegative", default: "0", help: "silence after which a node is offline; 0: ten heartbeats" },
  { key: "degradedLoad", env: "EDGEFED_DEGRADED_LOAD", flag: "--degraded-load", kind: "positive", default: "4", help: "1-minute load above which a node counts as degraded" },
  { key: "maxBodyBytes", env: "EDGEFED_MAX_BODY_BYTES", flag: "--max-body-bytes", kind: "positive", default: "65536", help: "larger request bodies get 413" },
  { key: "flushMs", env: "EDGEFED_FLUSH_MS", flag: "--flush-ms", kind: "positive", default: "1000", help: "how often live node state is written to SQLite" },
  { key: "sweepMs", env: "EDGEFED_SWEEP_MS", flag: "--sweep-ms", kind: "positive", default: "1000", help: "how often node health is re-evaluated" },
];

export class SettingsError extends Error {}

const MIN_ADMIN_TOKEN_LENGTH = 24;

function isBrokerUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return ["mqtt:", "mqtts:", "tcp:", "ws:", "wss:"].includes(url.protocol) && url.hostname !== "" && !/\s/.test(raw);
  } catch {
    return false;
  }
}

/** Credentials inside a URL end up in logs and, for the public URL, in every node's registration answer. */
function hasCredentials(raw: string): boolean {
  try {
    const url = new URL(raw);
    return url.username !== "" || url.password !== "";
  } catch {
    return false;
  }
}

function parseValue(spec: SettingSpec, raw: string, source: string): string | number {
  const bad = (why: string) => new SettingsError(`${source}: ${why}`);
  switch (spec.kind) {
    case "string":
      return raw;
    case "url":
      if (raw === "") return raw;
      if (hasCredentials(raw)) throw bad("must not carry a user name or password; set EDGEFED_MQTT_USERNAME and EDGEFED_MQTT_PASSWORD");
      if (!isBrokerUrl(raw)) throw bad(`${JSON.stringify(raw)} is not a broker URL (mqtt://, mqtts://, tcp://, ws:// or wss://)`);
      return raw;
    case "port": {
      const port = Number(raw);
      if (!/^\d+$/.test(raw) || port > 65535) throw bad(`${JSON.stringify(raw)} is not a port (0-65535)`);
      return port;
    }
    case "positive":
    case "nonNegative": {
      const value = Number(raw);
      const floor = spec.kind === "positive" ? "above 0" : "0 or more";
      if (raw.trim() === "" || !Number.isFinite(value) || value < 0 || (spec.kind === "positive" && value === 0)) {
        throw bad(`${JSON.stringify(raw)} is not a number ${floor}`);
      }
      return value;
    }
  }
}

/** Settings from the environment and flags; throws SettingsError naming the setting. */
export function parseHubSettings(args: string[], env: Record<string, string | undefined> = process.env): HubSettings {
  const values = new Map<keyof HubSettings, string | number>();
  for (const spec of SPECS) {
    const fromEnv = env[spec.env];
    values.set(spec.key, parseValue(spec, fromEnv ?? spec.default, fromEnv === undefined ? spec.flag : spec.env));
  }
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const spec = SPECS.find((s) => s.flag === flag);
    if (!spec) throw new SettingsError(`${flag}: unknown option (see --help)`);
    const raw = inline ?? args[++i];
    if (raw === undefined) throw new SettingsError(`${flag}: needs a value`);
    values.set(spec.key, parseValue(spec, raw, flag));
  }
  const settings = Object.fromEntries(values) as unknown as HubSettings;
  for (const [value, name] of [[settings.adminToken, "EDGEFED_ADMIN_TOKEN"], [settings.watchToken, "EDGEFED_WATCH_TOKEN"]] as const) {
    if (value && value.length < MIN_ADMIN_TOKEN_LENGTH) throw new SettingsError(`${name}: at least ${MIN_ADMIN_TOKEN_LENGTH} characters (openssl rand -base64 32 makes one)`);
  }
  if (settings.watchToken && settings.watchToken === settings.adminToken) throw new SettingsError("EDGEFED_WATCH_TOKEN: must differ from the admin token (watching grants no admin rights)");
  if (settings.offlineAfterS === 0) settings.offlineAfterS = settings.heartbeatS * 10;
  if (settings.mqttUrl && !settings.mqttUsername) {
    throw new SettingsError("EDGEFED_MQTT_USERNAME: an external broker needs the dynamic-security admin user and password");
  }
  return settings;
}

export function hubHelp(): string {
  const rows = SPECS.map((s) => `  ${`${s.flag} <${s.kind}>`.padEnd(26)} ${s.env.padEnd(24)} ${s.help}${s.default ? ` (default ${s.default})` : ""}`);
  return [
    "usage: edgefed-hub [options]               run the hub",
    "       edgefed-hub token create [--uses N] [--ttl 1d] [--data-dir DIR]",
    "                                          create an enrollment token (printed once)",
    "",
    "options (flag, environment variable):",
    ...rows,
  ].join("\n");
}

/** Settings with secrets masked, for the start-up log line. */
export function describeSettings(settings: HubSettings): Record<string, unknown> {
  const shown: Record<string, unknown> = { ...settings };
  for (const spec of SPECS) if (spec.secret && settings[spec.key]) shown[spec.key] = "***";
  return shown;
}
