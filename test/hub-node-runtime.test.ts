// The hub also runs under Node (a bundle built with `bun build --target=node`),
// storing with better-sqlite3 through the driver seam. This starts that bundle
// under the machine's `node`, registers a node and sees its heartbeat land,
// and its alert webhook post a fleet FREEZE to a local sink; and, with TLS on,
// serves HTTPS (node:https) and reloads its certificate on SIGHUP.
import { afterAll, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect as connectTls } from "node:tls";
import { nodeTopic } from "../protocol/topics.ts";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody } from "./support/hub-harness.ts";
import { hubCaFile } from "./support/test-tls.ts";
import { startWebhookSink } from "./support/webhook-sink.ts";
import { POSTGRES_START_BOUND_MS, postgresUnavailable, startPostgres } from "./support/postgres.ts";

const children: ChildProcess[] = [];
const webhook = startWebhookSink();
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await webhook.stop();
  removeTempDirs();
});

// Node finds better-sqlite3 (left out of the bundle: it is a native addon) through NODE_PATH.
const nodeEnv = (dataDir: string) => ({
  ...process.env,
  NODE_PATH: join(REPO_ROOT, "node_modules"),
  EDGEFED_DATA_DIR: dataDir,
  EDGEFED_HTTP_HOST: "127.0.0.1",
  EDGEFED_HTTP_PORT: "0",
  EDGEFED_MQTT_HOST: "127.0.0.1",
  EDGEFED_MQTT_PORT: "0",
  EDGEFED_MQTTS_PORT: "0",
  EDGEFED_ADMIN_TOKEN: "node-admin-token-0123456789",
  EDGEFED_FLUSH_MS: "100",
  EDGEFED_ALERT_WEBHOOK_URL: webhook.url,
});

/** The hub bundle, built once for the file's tests. */
let built: { out: string; bundle: string } | null = null;
function hubBundle(): { out: string; bundle: string } {
  if (built) return built;
  const out = tempDir("edgefed-node-hub-");
  const bundle = join(out, "edgefed-hub.mjs");
  const build = spawnSync(BUN, ["build", join(REPO_ROOT, "hub/main.ts"), "--target=node", "--outfile", bundle, "--external", "better-sqlite3"], { encoding: "utf8" });
  expect(build.status, build.stderr).toBe(0);
  built = { out, bundle };
  return built;
}

/** fetch trusting the CA the hub made in `dataDir` at its first start (TLS is on by default). */
function fetchTrustingHub(dataDir: string): (input: string, init?: RequestInit) => Promise<Response> {
  const ca = readFileSync(hubCaFile(dataDir), "utf8");
  return (input, init = {}) => globalThis.fetch(input, { ...init, tls: { ca } });
}

/** Starts the bundle under node; `log()` is everything it printed so far. */
function startNodeHub(bundle: string, env: Record<string, string | undefined>): { hub: ChildProcess; log: () => string } {
  const hub = spawn("node", [bundle], { env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(hub);
  let log = "";
  hub.stdout!.on("data", (chunk) => (log += chunk));
  hub.stderr!.on("data", (chunk) => (log += chunk));
  return { hub, log: () => log };
}

test("the hub bundle runs under Node with better-sqlite3 and registers a node", async () => {
  const { out, bundle } = hubBundle();

  const dataDir = join(out, "data");
  const tokenRun = spawnSync("node", [bundle, "token", "create", "--uses", "2"], { env: nodeEnv(dataDir), encoding: "utf8" });
  expect(tokenRun.status, tokenRun.stderr).toBe(0);
  const token = tokenRun.stdout.trim();
  expect(token).toStartWith("efe_");

  const { hub, log } = startNodeHub(bundle, nodeEnv(dataDir));
  const port = await eventually(() => /HTTP API on [\d.]+:(\d+)/.exec(log())?.[1], 15_000, "the hub under Node to listen");
  const url = `https://127.0.0.1:${port}`;
  // TLS is on by default: everything below trusts the CA the hub made at its first start.
  const ca = readFileSync(hubCaFile(dataDir), "utf8");
  const fetch = (input: string, init: RequestInit = {}) => globalThis.fetch(input, { ...init, tls: { ca } });

  const health = await (await fetch(`${url}/health`)).json();
  expect(health).toMatchObject({ status: "ok", store: "up", broker: "up", runtime: expect.stringMatching(/^node v\d+/) });
  // The dashboard is built with Bun.build, which Node lacks: it says so, and the API is unaffected.
  const dashboard = await fetch(`${url}/`);
  expect(dashboard.status).toBe(503);
  expect(await dashboard.json()).toMatchObject({ error: "dashboard_unavailable" });

  const node = newNode("node-runtime-pi");
  const response = await fetch(`${url}/federation/register`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(registerBody(node)),
  });
  expect(response.status).toBe(201);
  const registration = (await response.json()) as { mqtt: { url: string; username: string; password: string; client_id: string } };

  const client = await connectNode(registration.mqtt, { ca });
  await client.publishAsync(
    nodeTopic(node.nodeId, "heartbeat"),
    JSON.stringify({ seq: 1, ts: Date.now(), uptime_s: 1, load: [0, 0, 0], rss_bytes: 1, mode: "LIVE", connectivity: "online", simulated: false, outbox_depth: 0, kernel: { evaluated: 0, passed: 0, held: 0, duplicates: 0, recovered: 0 } }),
    { qos: 1 },
  );
  await client.endAsync(true);
  const view = await eventually(async () => {
    const r = await fetch(`${url}/federation/nodes/${node.nodeId}`, { headers: { authorization: "Bearer node-admin-token-0123456789" } });
    const body = (await r.json()) as { heartbeat: { count: number } };
    return body.heartbeat.count === 1 && body;
  }, 5000, "the heartbeat in the registry");
  expect(view).toMatchObject({ node_id: node.nodeId, health: { state: "healthy" } });

  const freeze = await fetch(`${url}/api/federation/decisions`, {
    method: "POST",
    headers: { authorization: "Bearer node-admin-token-0123456789", "content-type": "application/json" },
    body: JSON.stringify({ type: "FREEZE", target: "fleet" }),
  });
  expect(freeze.status).toBe(201);
  const frozen = await eventually(() => webhook.delivered().find((post) => post.kind === "fleet_frozen"), 10_000, "the webhook's fleet_frozen post");
  expect(frozen.severity).toBe("critical");

  // A clean stop under Node: SIGTERM ends it with status 0.
  const exited = new Promise<number | null>((resolve) => hub.once("exit", (code) => resolve(code)));
  hub.kill("SIGTERM");
  expect(await exited).toBe(0);
}, 60_000);

// The postgres client is plain JavaScript, bundled with the hub: under Node it
// opens the registry in PostgreSQL as under Bun (token create included).
test.skipIf(postgresUnavailable() !== null)("the hub bundle runs under Node on a PostgreSQL registry (EDGEFED_DATABASE_URL) and registers a node", async () => {
  const { out, bundle } = hubBundle();
  const postgres = await startPostgres();
  try {
    const dataDir = join(out, "data-pg");
    const env = { ...nodeEnv(dataDir), EDGEFED_DATABASE_URL: await postgres.freshRegistryUrl() };
    const tokenRun = spawnSync("node", [bundle, "token", "create"], { env, encoding: "utf8" });
    expect(tokenRun.status, tokenRun.stderr).toBe(0);
    const { hub, log } = startNodeHub(bundle, env);
    const port = await eventually(() => /HTTP API on [\d.]+:(\d+)/.exec(log())?.[1], 15_000, "the hub under Node to listen");
    const fetch = fetchTrustingHub(dataDir);
    expect(await (await fetch(`https://127.0.0.1:${port}/health`)).json()).toMatchObject({ status: "ok", store: "up" });
    const response = await fetch(`https://127.0.0.1:${port}/federation/register`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokenRun.stdout.trim()}`, "content-type": "application/json" },
      body: JSON.stringify(registerBody(newNode("node-runtime-pg-pi"))),
    });
    expect(response.status).toBe(201);
    hub.kill("SIGTERM");
  } finally {
    await postgres.stop();
  }
}, POSTGRES_START_BOUND_MS);

test("under Node with TLS on: HTTPS and MQTTS with the hub's CA, and SIGHUP serves a new certificate while sessions stay", async () => {
  const { out, bundle } = hubBundle();
  const dataDir = join(out, "tls-data");
  const tokenRun = spawnSync("node", [bundle, "token", "create", "--uses", "2"], { env: nodeEnv(dataDir), encoding: "utf8" });
  expect(tokenRun.status, tokenRun.stderr).toBe(0);
  const { hub, log } = startNodeHub(bundle, { ...nodeEnv(dataDir), EDGEFED_TLS: "on", EDGEFED_MQTTS_PORT: "0" });
  const port = Number(await eventually(() => /HTTP API on [\d.]+:(\d+) \(HTTPS\)/.exec(log())?.[1], 15_000, "the hub under Node to listen"));
  const ca = readFileSync(join(dataDir, "tls/ca.pem"), "utf8");
  const health = await (await fetch(`https://127.0.0.1:${port}/health`, { tls: { ca } })).json();
  expect(health).toMatchObject({ status: "ok", tls: true, plaintext: false, runtime: expect.stringMatching(/^node v\d+/) });

  const response = await fetch(`https://127.0.0.1:${port}/federation/register`, {
    method: "POST",
    headers: { authorization: `Bearer ${tokenRun.stdout.trim()}`, "content-type": "application/json" },
    body: JSON.stringify(registerBody(newNode("node-tls-pi"))),
    tls: { ca },
  });
  expect(response.status).toBe(201);
  const { mqtt } = (await response.json()) as { mqtt: { url: string; username: string; password: string; client_id: string } };
  expect(mqtt.url).toStartWith("mqtts://");
  const session = await connectNode(mqtt, { ca });
  let closed = false;
  session.on("close", () => (closed = true));

  const before = await peerSerial(port);
  rmSync(join(dataDir, "tls/server.pem")); // issued again at the reload, as one due for renewal is
  hub.kill("SIGHUP");
  await eventually(() => log().includes("TLS: serving the certificate"), 10_000, "the reload in the hub's log");
  expect(await peerSerial(port)).not.toBe(before);
  expect(await peerSerial(Number(new URL(mqtt.url).port))).not.toBe(before);
  expect((await fetch(`https://127.0.0.1:${port}/health`, { tls: { ca } })).status).toBe(200);
  expect(closed).toBe(false);
  expect(session.connected).toBe(true);
  await session.endAsync(true);
  hub.kill("SIGTERM");
}, 60_000);

/** The serial number of the certificate a TLS server on 127.0.0.1:port presents. */
function peerSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.once("error", reject);
  });
}
