// Hub settings: every one from the environment (EDGEFED_*) or a flag, flags
// winning. One table describes them; the engine (lib/settings.ts) derives the
// parser, --help and the masked start-up description from it.
import { UsageError } from "../lib/command-line.ts";
import { port, positive, nonNegative, path, text, wholeNumber, yesNo } from "../lib/setting-values.ts";
import { hostname } from "node:os";
import { HUB_ID_PATTERN } from "./broker/broker-access.ts";
import { webhookUrl } from "./alerting/webhook-url.ts";
import { trustedProxyList } from "./http/trusted-proxies.ts";
import { maskSecrets, parseSettings, settingsHelp, type Checked, type Setting, type SettingsTable } from "../lib/settings.ts";

/** How an external broker learns node credentials (EDGEFED_BROKER_AUTH). */
export const BROKER_AUTHS = ["dynsec", "registry"] as const;
export type BrokerAuth = (typeof BROKER_AUTHS)[number];

export interface HubSettings {
  dataDir: string;
  /** Names this replica (issue 16): part of its MQTT client ids, shown in /health and /metrics. */
  hubId: string;
  /** External broker only: subscribe to node traffic through MQTT 5 shared subscriptions, so several replicas split it. */
  sharedSubscriptions: boolean;
  /** postgres://... puts the registry in PostgreSQL; empty: SQLite in the data dir. A secret: the URL may carry a password. */
  databaseUrl: string;
  httpHost: string;
  httpPort: number;
  /** External broker URL; empty means run the embedded broker. */
  mqttUrl: string;
  /** External broker: who tells it the nodes' credentials and ACLs: the hub through Mosquitto's dynamic security, or the broker reads the registry (EMQX). */
  brokerAuth: BrokerAuth;
  mqttHost: string;
  mqttPort: number;
  mqttUsername: string;
  mqttPassword: string;
  /** The broker URL told to nodes at registration; empty derives it from the request's Host. */
  publicMqttUrl: string;
  adminToken: string;
  watchToken: string;
  /** The bearer token of GET /metrics (the admin token works too); empty: generated once into <data-dir>/metrics-token. */
  metricsToken: string;
  /** Per-node gauges on /metrics (health, heartbeat age, outbox depth): for small fleets only, a series per node. */
  metricsPerNode: boolean;
  heartbeatS: number;
  offlineAfterS: number;
  degradedLoad: number;
  maxBodyBytes: number;
  flushMs: number;
  sweepMs: number;
  /** The federation config file (YAML or JSON), reloaded on change; empty: built-in defaults, every role advisory. */
  federationConfig: string;
  /** Where alerts are posted as JSON; empty: nowhere (they are kept and listed only). A secret: the URL may carry a token. */
  alertWebhookUrl: string;
  alertWebhookPerMinute: number;
  alertDedupS: number;
  alertWebhookTimeoutMs: number;
  alertWebhookRetryMs: number;
  /** A decision not acknowledged by all its targets this long after it was issued raises an alert. */
  decisionPendingAlertS: number;
  /** Rate limits (token buckets): a burst at once, then so many a second. */
  registerBurst: number;
  registerPerS: number;
  loginBurst: number;
  loginPerS: number;
  adminBurst: number;
  adminPerS: number;
  mqttPublishBurst: number;
  mqttPublishPerS: number;
  /** Reverse proxies (addresses, CIDR ranges) whose X-Forwarded-For names the client; empty: none, the socket's address counts. */
  trustedProxies: string[];
  /** How long a dashboard login session lasts. */
  sessionTtlS: number;
  /** HTTPS for the API and MQTTS (mqttsPort) on the embedded broker; the hub's own broker connection over TLS. On by default: off needs allowPlaintext. */
  tls: boolean;
  /** Lab use, announced at start and in /health: allows tls off, or with TLS on keeps a plaintext listener on mqttPort beside MQTTS. */
  allowPlaintext: boolean;
  /** The embedded broker's MQTTS port. */
  mqttsPort: number;
  /** Names and addresses the generated server certificate covers beyond localhost, loopback and the host name. */
  tlsSans: string[];
  /** An operator's server certificate, its key and the CA nodes trust (all three, or none: the hub makes its own). */
  tlsCert: string;
  tlsKey: string;
  tlsCa: string;
  /** Mutual TLS required: the broker refuses a client without a certificate from the hub's CA whose CN is its MQTT user. */
  requireClientCert: boolean;
}

/**
 * Where every command that opens the hub's registry finds it unless told
 * otherwise (`npm start`, `hub`, `hub token create`), relative to the
 * directory it runs in: a token made there is one the running hub knows.
 */
export const DEFAULT_HUB_DATA_DIR = "./data/hub";

const MIN_ADMIN_TOKEN_LENGTH = 24;

/** An MQTT broker URL without credentials (they would end up in logs and, for the public URL, in every node's registration answer); empty means none. */
function brokerUrl(raw: string): Checked<string> {
  if (raw === "") return { value: raw };
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    // not a URL at all: said below
  }
  if (url && (url.username !== "" || url.password !== "")) {
    return { problem: "must not carry a user name or password; set EDGEFED_MQTT_USERNAME and EDGEFED_MQTT_PASSWORD" };
  }
  if (!url || !["mqtt:", "mqtts:", "tcp:", "ws:", "wss:"].includes(url.protocol) || url.hostname === "" || /\s/.test(raw)) {
    return { problem: `${JSON.stringify(raw)} is not a broker URL (mqtt://, mqtts://, tcp://, ws:// or wss://)` };
  }
  return { value: raw };
}

function brokerAuth(raw: string): Checked<BrokerAuth> {
  const auth = BROKER_AUTHS.find((known) => known === raw);
  return auth ? { value: auth } : { problem: `${JSON.stringify(raw)} is not one of ${BROKER_AUTHS.join(", ")}` };
}

/** A replica's name: letters, digits, dots, dashes, underscores (it goes into MQTT client ids). */
function hubId(raw: string): Checked<string> {
  if (!HUB_ID_PATTERN.test(raw)) return { problem: `${JSON.stringify(raw)} is not a hub id (letters, digits, ".", "-", "_", at most 63, starting with a letter or digit)` };
  return { value: raw };
}

/** Comma-separated host names and IP addresses (no wildcards, no spaces inside). */
function sanList(raw: string): Checked<string[]> {
  const names = raw.split(",").map((name) => name.trim()).filter((name) => name !== "");
  const wrong = names.find((name) => !/^[A-Za-z0-9.:-]+$/.test(name));
  if (wrong !== undefined) return { problem: `${JSON.stringify(wrong)} is not a host name or IP address` };
  return { value: names };
}

const optionalPath = (raw: string): Checked<string> => (raw === "" ? { value: raw } : path(raw));

/** Also a setting of `hub token create`, which opens the same registry. */
export const DATA_DIR_SETTING: Setting<HubSettings, "dataDir"> = {
  key: "dataDir",
  env: "EDGEFED_DATA_DIR",
  flag: "data-dir",
  parse: text,
  value: "DIR",
  default: DEFAULT_HUB_DATA_DIR,
  help: "registry, hub key and admin token",
};

/** A PostgreSQL connection URL, or empty (SQLite). */
function databaseUrl(raw: string): Checked<string> {
  if (raw === "") return { value: raw };
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    // not a URL at all: said below
  }
  if (!url || !["postgres:", "postgresql:"].includes(url.protocol) || /\s/.test(raw)) {
    return { problem: "is not a PostgreSQL URL (postgres://user:password@host:5432/database)" }; // the value itself may hold a password: not repeated
  }
  return { value: raw };
}

/** Also a setting of `hub token create`, which opens the same registry. */
export const DATABASE_URL_SETTING: Setting<HubSettings, "databaseUrl"> = {
  key: "databaseUrl",
  env: "EDGEFED_DATABASE_URL",
  flag: "database-url",
  parse: databaseUrl,
  value: "URL",
  default: "",
  help: "registry in PostgreSQL (postgres://...; prefer the variable: it may carry a password); empty: SQLite in the data dir",
  secret: true,
};

const HUB_SETTINGS: SettingsTable<HubSettings> = [
  DATA_DIR_SETTING,
  DATABASE_URL_SETTING,
  { key: "hubId", env: "EDGEFED_HUB_ID", flag: "hub-id", parse: hubId, value: "ID", default: hostname(), help: "names this hub replica (in its MQTT client ids, /health, /metrics); default: the host name" },
  { key: "sharedSubscriptions", env: "EDGEFED_SHARED_SUBSCRIPTIONS", flag: "shared-subscriptions", parse: yesNo, value: "0|1", default: "0", help: "external broker: receive node traffic through MQTT 5 shared subscriptions ($share/edgefed-hub/...), so several hub replicas split it" },
  { key: "httpHost", env: "EDGEFED_HTTP_HOST", flag: "http-host", parse: text, value: "HOST", default: "0.0.0.0", help: "HTTP listen address" },
  { key: "httpPort", env: "EDGEFED_HTTP_PORT", flag: "http-port", parse: port, value: "PORT", default: "8080", help: "HTTP port (0 picks a free one)" },
  { key: "mqttUrl", env: "EDGEFED_MQTT_URL", flag: "mqtt-url", parse: brokerUrl, value: "URL", default: "", help: "external broker (Mosquitto with dynamic security, or EMQX reading the registry: --broker-auth); empty runs the embedded broker" },
  { key: "brokerAuth", env: "EDGEFED_BROKER_AUTH", flag: "broker-auth", parse: brokerAuth, value: BROKER_AUTHS.join("|"), default: "dynsec", help: "external broker: dynsec, the hub grants each node through Mosquitto's dynamic security; registry, the broker reads node credentials and ACLs from the PostgreSQL registry itself (EMQX, examples/emqx/)" },
  { key: "mqttHost", env: "EDGEFED_MQTT_HOST", flag: "mqtt-host", parse: text, value: "HOST", default: "0.0.0.0", help: "embedded broker listen address" },
  { key: "mqttPort", env: "EDGEFED_MQTT_PORT", flag: "mqtt-port", parse: port, value: "PORT", default: "1883", help: "embedded broker port (0 picks a free one)" },
  { key: "mqttUsername", env: "EDGEFED_MQTT_USERNAME", flag: "mqtt-username", parse: text, value: "USER", default: "", help: "external broker: the hub's user (with dynsec: the dynamic-security admin)" },
  { key: "mqttPassword", env: "EDGEFED_MQTT_PASSWORD", flag: "mqtt-password", parse: text, value: "PASSWORD", default: "", help: "external broker: that user's password (prefer the variable: flags show in ps)", secret: true },
  { key: "publicMqttUrl", env: "EDGEFED_PUBLIC_MQTT_URL", flag: "public-mqtt-url", parse: brokerUrl, value: "URL", default: "", help: "broker URL given to nodes; empty: the host they called the hub by" },
  { key: "adminToken", env: "EDGEFED_ADMIN_TOKEN", flag: "admin-token", parse: text, value: "TOKEN", default: "", help: "admin API token (prefer the variable: flags show in ps); empty: generated once into <data-dir>/admin-token", secret: true },
  { key: "watchToken", env: "EDGEFED_WATCH_TOKEN", flag: "watch-token", parse: text, value: "TOKEN", default: "", help: "read-only MQTT watcher password on the embedded broker (prefer the variable: flags show in ps); empty: generated once into <data-dir>/watch-token", secret: true },
  { key: "metricsToken", env: "EDGEFED_METRICS_TOKEN", flag: "metrics-token", parse: text, value: "TOKEN", default: "", help: "bearer token of GET /metrics (the admin token works too; prefer the variable: flags show in ps); empty: generated once into <data-dir>/metrics-token", secret: true },
  { key: "metricsPerNode", env: "EDGEFED_METRICS_PER_NODE", flag: "metrics-per-node", parse: yesNo, value: "0|1", default: "0", help: "per-node gauges on /metrics (a series per node: small fleets only)" },
  { key: "heartbeatS", env: "EDGEFED_HEARTBEAT_S", flag: "heartbeat-s", parse: positive, value: "S", default: "15", help: "heartbeat interval told to nodes" },
  { key: "offlineAfterS", env: "EDGEFED_OFFLINE_AFTER_S", flag: "offline-after-s", parse: nonNegative, value: "S", default: "0", help: "silence after which a node is offline; 0: ten heartbeats" },
  { key: "degradedLoad", env: "EDGEFED_DEGRADED_LOAD", flag: "degraded-load", parse: positive, value: "LOAD", default: "4", help: "1-minute load above which a node counts as degraded" },
  { key: "maxBodyBytes", env: "EDGEFED_MAX_BODY_BYTES", flag: "max-body-bytes", parse: positive, value: "BYTES", default: "65536", help: "larger request bodies get 413" },
  { key: "flushMs", env: "EDGEFED_FLUSH_MS", flag: "flush-ms", parse: positive, value: "MS", default: "1000", help: "how often live node state is written to SQLite" },
  { key: "sweepMs", env: "EDGEFED_SWEEP_MS", flag: "sweep-ms", parse: positive, value: "MS", default: "1000", help: "how often node health is re-evaluated" },
  { key: "federationConfig", env: "EDGEFED_FEDERATION_CONFIG", flag: "federation-config", parse: (raw) => (raw === "" ? { value: raw } : path(raw)), value: "FILE", default: "", help: "federation roles config (YAML or JSON, reloaded on change); empty: built-in defaults, every role advisory" },
  { key: "alertWebhookUrl", env: "EDGEFED_ALERT_WEBHOOK_URL", flag: "alert-webhook-url", parse: webhookUrl, value: "URL", default: "", help: "alerts are POSTed here as JSON (prefer the variable: a URL may carry a token); empty: kept and listed only", secret: true },
  { key: "alertWebhookPerMinute", env: "EDGEFED_ALERT_WEBHOOK_PER_MINUTE", flag: "alert-webhook-per-minute", parse: wholeNumber(1), value: "N", default: "20", help: "webhook posts a minute at most; the alerts held back are summarised in a later post" },
  { key: "alertDedupS", env: "EDGEFED_ALERT_DEDUP_S", flag: "alert-dedup-s", parse: nonNegative, value: "S", default: "600", help: "a repeat of the last alert posted about the same thing within this is not posted; 0: every one is" },
  { key: "alertWebhookTimeoutMs", env: "EDGEFED_ALERT_WEBHOOK_TIMEOUT_MS", flag: "alert-webhook-timeout-ms", parse: positive, value: "MS", default: "5000", help: "a webhook post without an answer in this is tried again" },
  { key: "alertWebhookRetryMs", env: "EDGEFED_ALERT_WEBHOOK_RETRY_MS", flag: "alert-webhook-retry-ms", parse: positive, value: "MS", default: "1000", help: "first retry of a failed webhook post after about this; doubled each time, up to 5 min" },
  { key: "decisionPendingAlertS", env: "EDGEFED_DECISION_PENDING_ALERT_S", flag: "decision-pending-alert-s", parse: positive, value: "S", default: "300", help: "alert on a decision some targets have not acknowledged this long after it was issued" },
  // Registration: 1,000 nodes behind one NAT re-registering at once (a power cut) fit the burst; more wait and retry (agents back off on 429).
  { key: "registerBurst", env: "EDGEFED_RATE_REGISTER_BURST", flag: "rate-register-burst", parse: wholeNumber(1), value: "N", default: "1000", help: "registration attempts a source address may make at once (size for the most nodes behind one NAT)" },
  { key: "registerPerS", env: "EDGEFED_RATE_REGISTER_PER_S", flag: "rate-register-per-s", parse: positive, value: "N", default: "10", help: "registration attempts a second a source address gets back after its burst" },
  { key: "loginBurst", env: "EDGEFED_RATE_LOGIN_BURST", flag: "rate-login-burst", parse: wholeNumber(1), value: "N", default: "10", help: "refused login attempts (POST /api/session) a source address may make at once" },
  { key: "loginPerS", env: "EDGEFED_RATE_LOGIN_PER_S", flag: "rate-login-per-s", parse: positive, value: "N", default: "0.1", help: "refused login attempts a second a source address gets back after its burst" },
  { key: "adminBurst", env: "EDGEFED_RATE_ADMIN_BURST", flag: "rate-admin-burst", parse: wholeNumber(1), value: "N", default: "600", help: "API requests one token or dashboard session may make at once" },
  { key: "adminPerS", env: "EDGEFED_RATE_ADMIN_PER_S", flag: "rate-admin-per-s", parse: positive, value: "N", default: "100", help: "API requests a second one token or dashboard session gets back after its burst" },
  // After an outage a node replays its whole outbox (EDGEFED_OUTBOX_MAX, 100,000 by default) as fast as the hub
  // acknowledges (11,000 to 21,000 events/s measured): the burst holds a full outbox, so a replay is never cut off.
  // 1,000/s after it is a hundred times a busy node's steady rate.
  { key: "mqttPublishBurst", env: "EDGEFED_RATE_MQTT_PUBLISH_BURST", flag: "rate-mqtt-publish-burst", parse: wholeNumber(1), value: "N", default: "100000", help: "MQTT messages a node may publish at once (a full outbox replayed after an outage); past its budget the embedded broker disconnects it, with Mosquitto ingest drops them" },
  { key: "mqttPublishPerS", env: "EDGEFED_RATE_MQTT_PUBLISH_PER_S", flag: "rate-mqtt-publish-per-s", parse: positive, value: "N", default: "1000", help: "MQTT messages a second a node gets back after its burst" },
  { key: "trustedProxies", env: "EDGEFED_TRUSTED_PROXIES", flag: "trusted-proxies", parse: trustedProxyList, value: "ADDRS", default: "", help: "reverse proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For names the client for the per-address limits; empty: none" },
  { key: "sessionTtlS", env: "EDGEFED_SESSION_TTL_S", flag: "session-ttl-s", parse: positive, value: "S", default: "43200", help: "how long a dashboard login lasts" },
  { key: "tls", env: "EDGEFED_TLS", flag: "tls", parse: yesNo, value: "on|off", default: "on", help: "HTTPS API and MQTTS broker, with the hub's own CA unless an operator's certificate is given (below); off only with plaintext allowed" },
  { key: "allowPlaintext", env: "EDGEFED_ALLOW_PLAINTEXT", flag: "allow-plaintext", parse: yesNo, value: "1|0", default: "0", help: "lab use: allows TLS off, or with TLS on keeps a plaintext MQTT listener on the MQTT port beside MQTTS (said at start and in /health)" },
  { key: "mqttsPort", env: "EDGEFED_MQTTS_PORT", flag: "mqtts-port", parse: port, value: "PORT", default: "8883", help: "embedded broker MQTTS port with TLS on (0 picks a free one)" },
  { key: "tlsSans", env: "EDGEFED_TLS_SANS", flag: "tls-sans", parse: sanList, value: "LIST", default: "", help: "extra host names and addresses of the generated server certificate (always: localhost, 127.0.0.1, ::1, the host name)" },
  { key: "tlsCert", env: "EDGEFED_TLS_CERT", flag: "tls-cert", parse: optionalPath, value: "FILE", default: "", help: "an operator's server certificate (PEM, with its chain); empty: the hub issues its own" },
  { key: "tlsKey", env: "EDGEFED_TLS_KEY", flag: "tls-key", parse: optionalPath, value: "FILE", default: "", help: "that certificate's private key (PEM)" },
  { key: "tlsCa", env: "EDGEFED_TLS_CA", flag: "tls-ca", parse: optionalPath, value: "FILE", default: "", help: "the CA certificate nodes trust for that certificate (PEM)" },
  { key: "requireClientCert", env: "EDGEFED_REQUIRE_CLIENT_CERT", flag: "require-client-cert", parse: yesNo, value: "1|0", default: "0", help: "mutual TLS: the broker refuses clients without a certificate from the hub's CA (nodes get one at registration)" },
];

/** Settings from the environment and flags; throws UsageError naming each bad setting, HelpRequested for --help. */
export function parseHubSettings(args: string[], env: Record<string, string | undefined> = process.env): HubSettings {
  const settings = parseSettings(HUB_SETTINGS, args, env);
  const problems: string[] = [];
  for (const [value, name] of [[settings.adminToken, "EDGEFED_ADMIN_TOKEN"], [settings.watchToken, "EDGEFED_WATCH_TOKEN"], [settings.metricsToken, "EDGEFED_METRICS_TOKEN"]] as const) {
    if (value && value.length < MIN_ADMIN_TOKEN_LENGTH) problems.push(`${name}: at least ${MIN_ADMIN_TOKEN_LENGTH} characters (openssl rand -base64 32 makes one)`);
  }
  if (settings.watchToken && settings.watchToken === settings.adminToken) problems.push("EDGEFED_WATCH_TOKEN: must differ from the admin token (watching grants no admin rights)");
  // Nothing in clear on the LAN unless an operator says so (issue 14): tokens, passwords and decisions cross it.
  if (!settings.tls && !settings.allowPlaintext) {
    problems.push("EDGEFED_TLS: off sends tokens and passwords in clear; it needs EDGEFED_ALLOW_PLAINTEXT=1 as well (lab use only)");
  }
  if (settings.mqttUrl && !settings.mqttUsername) {
    problems.push("EDGEFED_MQTT_USERNAME: an external broker needs the hub's user and password (with dynsec: the dynamic-security admin)");
  }
  if (settings.brokerAuth === "registry" && !settings.mqttUrl) {
    problems.push("EDGEFED_BROKER_AUTH: registry is for an external broker that reads the registry (EMQX); set EDGEFED_MQTT_URL (the embedded broker checks nodes itself)");
  }
  if (settings.brokerAuth === "registry" && !settings.databaseUrl) {
    problems.push("EDGEFED_BROKER_AUTH: with registry the broker reads node credentials from the PostgreSQL registry; set EDGEFED_DATABASE_URL");
  }
  if (settings.sharedSubscriptions && !settings.mqttUrl) {
    problems.push("EDGEFED_SHARED_SUBSCRIPTIONS: replicas share an external broker; set EDGEFED_MQTT_URL (the embedded broker serves one hub)");
  }
  if (settings.mqttUrl) {
    const brokerTls = ["mqtts:", "wss:"].includes(new URL(settings.mqttUrl).protocol);
    if (brokerTls && !settings.tls) problems.push("EDGEFED_MQTT_URL: a TLS broker (mqtts://, wss://) serves the hub's certificate: set EDGEFED_TLS=on");
    if (!brokerTls && settings.tls && !settings.allowPlaintext) problems.push("EDGEFED_MQTT_URL: with TLS on the hub talks to the broker over TLS (mqtts://); plaintext needs EDGEFED_ALLOW_PLAINTEXT=1");
  }
  if (settings.publicMqttUrl && settings.tls && !settings.allowPlaintext && !["mqtts:", "wss:"].includes(new URL(settings.publicMqttUrl).protocol)) {
    problems.push("EDGEFED_PUBLIC_MQTT_URL: with TLS on nodes are told a TLS broker (mqtts://); a plaintext one needs EDGEFED_ALLOW_PLAINTEXT=1");
  }
  const operatorTls = [settings.tlsCert, settings.tlsKey, settings.tlsCa].filter((file) => file !== "").length;
  if (operatorTls !== 0 && operatorTls !== 3) problems.push("EDGEFED_TLS_CERT, EDGEFED_TLS_KEY, EDGEFED_TLS_CA: an operator's certificate needs all three (or none: the hub makes its own)");
  if (settings.requireClientCert && !settings.tls) problems.push("EDGEFED_REQUIRE_CLIENT_CERT: client certificates are a part of TLS: set EDGEFED_TLS=on");
  if (settings.requireClientCert && operatorTls !== 0) problems.push("EDGEFED_REQUIRE_CLIENT_CERT: client certificates are issued by the hub's own CA, not with an operator's certificate (EDGEFED_TLS_CERT)");
  if (problems.length) throw new UsageError(problems);
  if (settings.offlineAfterS === 0) settings.offlineAfterS = settings.heartbeatS * 10;
  return settings;
}

/** The options rows of --help, for the hub and for `npm start`, which takes the same. */
export function hubSettingsHelp(): string[] {
  return ["options (flag, environment variable):", ...settingsHelp(HUB_SETTINGS), "  -h, --help"];
}


export function hubHelp(): string {
  return [
    "usage: edgefed-hub [serve] [options]   run the hub",
    "       edgefed-hub token create [--uses N] [--ttl 1d|never] [--label TEXT] [--data-dir DIR]",
    "                                       create an enrollment token (printed once)",
    "",
    ...hubSettingsHelp(),
  ].join("\n");
}

/** Settings with secrets masked, for the start-up log line. */
export function describeSettings(settings: HubSettings): Record<string, unknown> {
  return maskSecrets(HUB_SETTINGS, settings);
}
