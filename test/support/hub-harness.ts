// Starts a real hub for end-to-end tests: a temp data dir, free ports, the
// embedded broker or a real Mosquitto, and helpers that speak its HTTP API
// and MQTT as a node would.
import mqtt, { type MqttClient } from "mqtt";
import { generateKeyPair, signMessage, type Ed25519KeyPair } from "../../protocol/signing.ts";
import { startHub, type RunningHub } from "../../hub/hub.ts";
import { parseHubSettings, type HubSettings } from "../../hub/settings.ts";
import { newEnrollmentToken } from "../../hub/identity/enrollment-tokens.ts";
import { openSqliteRegistry } from "../../hub/store/sqlite/sqlite-store.ts";
import { tempDir } from "../helpers.ts";
import { jsonRequest } from "./json-request.ts";
import type { RunningMosquitto } from "./mosquitto.ts";
import { seedTestTls, trustedTestCas } from "./test-tls.ts";

export interface TestHub {
  hub: RunningHub;
  dataDir: string;
  adminToken: string;
  /** The read-only watcher's password on the embedded broker. */
  watchToken: string;
  settings: HubSettings;
  /** A fresh enrollment token (written into the registry as `token create` does). */
  enrollmentToken(options?: { uses?: number; ttlMs?: number | null }): string;
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  /** fetch() of a path on this hub (or a whole URL), trusting its CA: for requests `api` does not make (no token, raw bodies, headers read). */
  fetch(pathOrUrl: string, init?: RequestInit): Promise<Response>;
  /** connectNode trusting this hub's CA (the free connectNode trusts the test run's CAs). */
  connectNode(credentials: NodeCredentials, options?: ConnectNodeOptions): Promise<MqttClient>;
  stop(): Promise<void>;
}

/**
 * TLS is on, as in production: HTTPS and MQTTS (the MQTTS port picked free)
 * with the test run's PKI (test-tls.ts) seeded into the data dir; `api`,
 * `fetch` and `connectNode` trust that CA only. `tls: false` is the lab's
 * plaintext (EDGEFED_TLS=off with EDGEFED_ALLOW_PLAINTEXT=1), for the tests
 * that are about plaintext. `ownCa`: the hub makes a CA of its own, which
 * only this hub's `api`, `fetch` and `connectNode` trust. With `mosquitto`
 * (started by startMosquitto, which serves the run's certificate) the hub
 * talks to it over TLS.
 */
export async function startTestHub(
  options: { mosquitto?: RunningMosquitto; dataDir?: string; env?: Record<string, string>; log?: (line: string) => void; tls?: boolean; ownCa?: boolean } = {},
): Promise<TestHub> {
  const dataDir = options.dataDir ?? tempDir("edgefed-hub-");
  const adminToken = "test-admin-token-0123456789abcdef";
  const watchToken = "test-watch-token-0123456789abcdef";
  // A test fixes the broker's port with EDGEFED_MQTT_PORT (to start a hub again on it); with TLS on and
  // no plaintext listener beside, that port is the MQTTS listener's.
  const fixedBrokerPort = options.env?.EDGEFED_ALLOW_PLAINTEXT === "1" ? undefined : options.env?.EDGEFED_MQTT_PORT;
  const env: Record<string, string> = {
    EDGEFED_DATA_DIR: dataDir,
    EDGEFED_HTTP_HOST: "127.0.0.1",
    EDGEFED_HTTP_PORT: "0",
    EDGEFED_MQTT_HOST: "127.0.0.1",
    EDGEFED_MQTT_PORT: "0",
    EDGEFED_ADMIN_TOKEN: adminToken,
    EDGEFED_WATCH_TOKEN: watchToken,
    EDGEFED_HEARTBEAT_S: "1",
    EDGEFED_FLUSH_MS: "100",
    EDGEFED_SWEEP_MS: "100",
    ...(options.tls === false ? { EDGEFED_TLS: "off", EDGEFED_ALLOW_PLAINTEXT: "1" } : { EDGEFED_TLS: "on", EDGEFED_MQTTS_PORT: fixedBrokerPort ?? "0" }),
    ...options.env,
  };
  if (options.mosquitto) {
    env.EDGEFED_MQTT_URL = options.mosquitto.url;
    env.EDGEFED_MQTT_USERNAME = options.mosquitto.admin!.username;
    env.EDGEFED_MQTT_PASSWORD = options.mosquitto.admin!.password;
  }
  const settings = parseHubSettings([], env);
  if (settings.tls && !options.ownCa) seedTestTls(dataDir);
  const hub = await startHub(settings, options.log ?? (() => {}));
  // Enrollment tokens go straight into the registry file, as `token create` puts them there for a
  // running hub; the SQLite tables write at once, so enrollmentToken() can stay synchronous.
  const registry = openSqliteRegistry(dataDir);
  const hubFetch: TestHub["fetch"] = (pathOrUrl, init = {}) => {
    const url = /^https?:/.test(pathOrUrl) ? pathOrUrl : `${hub.httpUrl}${pathOrUrl}`;
    return fetch(url, hub.tls ? { ...init, tls: { ca: hub.tls.ca } } : init);
  };
  const api: TestHub["api"] = (method, path, body, token = adminToken) => jsonRequest(hubFetch, path, method, body, { authorization: `Bearer ${token}` });
  return {
    hub,
    dataDir,
    adminToken,
    watchToken,
    settings,
    enrollmentToken: (o = {}) => {
      const { token, record } = newEnrollmentToken({ uses: o.uses ?? 100, ttlMs: o.ttlMs === undefined ? 3600_000 : o.ttlMs }, Date.now());
      void registry.tokens.add(record); // written when it returns: the promise only carries the (empty) result
      return token;
    },
    api,
    fetch: hubFetch,
    connectNode: (credentials, connectOptions = {}) => connectNode(credentials, { ...(hub.tls ? { ca: hub.tls.ca } : {}), ...connectOptions }),
    async stop() {
      registry.close();
      await hub.stop();
    },
  };
}

export interface TestNode {
  nodeId: string;
  keys: Ed25519KeyPair;
}

export function newNode(nodeId: string): TestNode {
  return { nodeId, keys: generateKeyPair() };
}

/** The registration body a node sends, signed with its key (proof of possession). */
export function registerBody(node: TestNode, overrides: Record<string, unknown> = {}, sign = true): Record<string, unknown> {
  const body = { node_id: node.nodeId, public_key: node.keys.publicKey, capabilities: ["kernel", "sim"], arch: "x64", version: "0.1.0", ts: Date.now(), ...overrides };
  return sign ? signMessage(body, node.keys.privateKey) : body;
}

export interface NodeCredentials {
  url: string;
  username: string;
  password: string;
  client_id: string;
}

export interface ConnectNodeOptions {
  will?: mqtt.IClientOptions["will"];
  clientId?: string;
  /** The CA to trust over mqtts://; by default the test run's CAs (test-tls.ts), never the system store. */
  ca?: string | string[];
  /** A client certificate to present (mutual TLS). */
  clientCertificate?: { cert: string; key: string } | null;
}

/** Connects as a node with the credentials registration returned. */
export async function connectNode(credentials: NodeCredentials, options: ConnectNodeOptions = {}): Promise<MqttClient> {
  const ca = options.ca ?? (credentials.url.startsWith("mqtts:") ? trustedTestCas() : undefined);
  const client = mqtt.connect(credentials.url, {
    ...(ca ? { ca, rejectUnauthorized: true } : {}),
    ...(options.clientCertificate ? { cert: options.clientCertificate.cert, key: options.clientCertificate.key } : {}),
    clientId: options.clientId ?? credentials.client_id,
    username: credentials.username,
    password: credentials.password,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    will: options.will,
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
    client.once("close", () => reject(new Error("connection closed before CONNACK")));
  });
  return client;
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
  what: string | (() => string) = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "function" ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
