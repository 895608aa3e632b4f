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
import type { RunningMosquitto } from "./mosquitto.ts";

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
  stop(): Promise<void>;
}

/**
 * `tls`: HTTPS and MQTTS with the hub's generated CA (the MQTTS port picked
 * free); `api` and `connectNode` then trust that CA only. With `mosquitto`,
 * give the data dir whose certificates that broker serves (tlsMaterialFor).
 */
export async function startTestHub(
  options: { mosquitto?: RunningMosquitto; dataDir?: string; env?: Record<string, string>; log?: (line: string) => void; tls?: boolean } = {},
): Promise<TestHub> {
  const dataDir = options.dataDir ?? tempDir("edgefed-hub-");
  const adminToken = "test-admin-token-0123456789abcdef";
  const watchToken = "test-watch-token-0123456789abcdef";
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
    ...(options.tls ? { EDGEFED_TLS: "on", EDGEFED_MQTTS_PORT: "0" } : {}),
    ...options.env,
  };
  if (options.mosquitto) {
    env.EDGEFED_MQTT_URL = options.mosquitto.url;
    env.EDGEFED_MQTT_USERNAME = options.mosquitto.admin!.username;
    env.EDGEFED_MQTT_PASSWORD = options.mosquitto.admin!.password;
  }
  const settings = parseHubSettings([], env);
  const hub = await startHub(settings, options.log ?? (() => {}));
  // Enrollment tokens go straight into the registry file, as `token create` puts them there for a
  // running hub; the SQLite tables write at once, so enrollmentToken() can stay synchronous.
  const registry = openSqliteRegistry(dataDir);
  const api: TestHub["api"] = async (method, path, body, token = adminToken) => {
    const response = await fetch(`${hub.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      ...(hub.tls ? { tls: { ca: hub.tls.ca } } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: response.status, body: parsed };
  };
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

/** Connects as a node with the credentials registration returned. */
export async function connectNode(
  credentials: { url: string; username: string; password: string; client_id: string },
  options: { will?: mqtt.IClientOptions["will"]; clientId?: string; ca?: string; clientCertificate?: { cert: string; key: string } | null } = {},
): Promise<MqttClient> {
  const client = mqtt.connect(credentials.url, {
    ...(options.ca ? { ca: options.ca, rejectUnauthorized: true } : {}),
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
