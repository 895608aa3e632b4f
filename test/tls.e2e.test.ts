// TLS end to end, on both brokers: a hub with EDGEFED_TLS=on serves HTTPS
// and MQTTS with the CA it made; real agents pinning that CA register and
// heartbeat over TLS only; a client that does not trust the CA, a server
// whose certificate comes from another CA and a plaintext connection are all
// refused; a certificate reload (what SIGHUP does) keeps open sessions and
// serves the new certificate to new connections. Mosquitto runs a real TLS
// listener with the hub's certificate files, and serves a renewed one after
// its own SIGHUP without dropping sessions.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connect as connectTls, type PeerCertificate } from "node:tls";
import mqtt from "mqtt";
import { Agent } from "../agent/agent.ts";
import { registerOnce } from "../agent/registration.ts";
import { generateKeyPair } from "../protocol/signing.ts";
import { loadHubTls, TLS_DIR } from "../hub/tls/hub-pki.ts";
import { cleanUp, tempDir } from "./helpers.ts";
import { startOnlineAgent, testAgentConfig } from "./support/agent-harness.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";

const running: Agent[] = [];
const hubs: TestHub[] = [];
const brokers: RunningMosquitto[] = [];

afterEach(async () => {
  for (const agent of running.splice(0)) await agent.stop();
  for (const hub of hubs.splice(0)) await hub.stop();
  for (const broker of brokers.splice(0)) await broker.stop();
});
afterAll(cleanUp);

async function tlsHub(options: Parameters<typeof startTestHub>[0] = {}): Promise<TestHub> {
  const hub = await startTestHub({ tls: true, ...options });
  hubs.push(hub);
  return hub;
}

/** A Mosquitto whose MQTTS listener serves the certificate of the hub that will run on `dataDir` (made first, as an operator would). */
async function mosquittoForHub(dataDir: string): Promise<RunningMosquitto> {
  const material = loadHubTls({ dataDir, extraSans: [], certFile: "", keyFile: "", caFile: "" }, Date.now(), () => {});
  const broker = await startMosquitto({ dynsec: true, tls: material });
  brokers.push(broker);
  return broker;
}

/** The certificate a TLS server on 127.0.0.1:port presents (unverified: just to see which one it is). */
function presentedCertificate(port: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.once("error", reject);
  });
}

/** Connects to an MQTT URL and says how it ended: "connected", or the error that refused it. */
function mqttOutcome(url: string, options: mqtt.IClientOptions): Promise<string> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, ...options });
    const done = (outcome: string) => {
      client.end(true);
      resolve(outcome);
    };
    client.once("connect", () => done("connected"));
    client.once("error", (error) => done(error.message));
    client.once("close", () => done("closed"));
  });
}

/** A node registered over HTTPS, with its MQTT credentials. */
async function registeredNode(hub: TestHub, nodeId: string) {
  const node = newNode(nodeId);
  const response = await hub.api("POST", "/federation/register", registerBody(node), hub.enrollmentToken());
  expect(response.status).toBe(201);
  return response.body.mqtt as { url: string; username: string; password: string; client_id: string };
}

const BROKERS = [
  { name: "embedded broker", mosquitto: false },
  { name: "Mosquitto", mosquitto: true },
] as const;

for (const { name, mosquitto } of BROKERS) {
  describe(`TLS on, ${name}`, () => {
    async function start(): Promise<TestHub> {
      const dataDir = tempDir("edgefed-hub-");
      return tlsHub({ dataDir, ...(mosquitto ? { mosquitto: await mosquittoForHub(dataDir) } : {}) });
    }

    test("an agent pinning the hub's CA registers and heartbeats over HTTPS and MQTTS", async () => {
      const hub = await start();
      expect(hub.hub.httpUrl).toStartWith("https://");
      const config = testAgentConfig(hub, "tls-agent");
      expect(config.hubCa).toContain("BEGIN CERTIFICATE");
      await startOnlineAgent(hub, config, running);
      const firstBeat = await eventually(async () => (await hub.api("GET", "/federation/nodes/tls-agent")).body.heartbeat?.last_at, 10_000, "a heartbeat");
      await eventually(async () => (await hub.api("GET", "/federation/nodes/tls-agent")).body.heartbeat?.last_at > firstBeat, 10_000, "a later heartbeat");
      const credentials = await registeredNode(hub, "tls-probe");
      expect(credentials.url).toStartWith("mqtts://");
      const health = await hub.api("GET", "/health");
      expect(health.body).toMatchObject({ status: "ok", tls: true, plaintext: false });
    });

    test("a client that does not trust the hub's CA is refused, over HTTPS and MQTTS", async () => {
      const hub = await start();
      // The system's store does not hold the hub's CA.
      await expect(fetch(`${hub.hub.httpUrl}/health`)).rejects.toThrow(/certificate/i);
      const credentials = await registeredNode(hub, "tls-untrusting");
      const outcome = await mqttOutcome(credentials.url, { clientId: credentials.client_id, username: credentials.username, password: credentials.password });
      expect(outcome).toMatch(/certificate/i);
      // The same credentials with the CA pinned connect: the refusal was the certificate's.
      (await connectNode(credentials, { ca: hub.hub.tls!.ca })).end(true);
    });

    test("plaintext is refused: MQTT without TLS on the MQTTS port, HTTP on the HTTPS port", async () => {
      const hub = await start();
      const credentials = await registeredNode(hub, "tls-plain");
      const plainUrl = credentials.url.replace(/^mqtts:/, "mqtt:");
      expect(await mqttOutcome(plainUrl, { clientId: credentials.client_id, username: credentials.username, password: credentials.password })).not.toBe("connected");
      await expect(fetch(hub.hub.httpUrl.replace(/^https:/, "http:") + "/health")).rejects.toThrow();
    });
  });
}

describe("TLS on: pinning", () => {
  test("an agent pinning one hub's CA refuses another hub whose certificate comes from another CA", async () => {
    // Each with a CA of its own (test hubs share the run's CA otherwise).
    const trusted = await tlsHub({ ownCa: true });
    const other = await tlsHub({ ownCa: true });
    const identity = { nodeId: "pinned-node", keys: generateKeyPair(), createdAt: Date.now() };
    const advertisement = { capabilities: ["kernel"], arch: "x64" as const, version: "0.1.0-test" };
    const refused = await registerOnce(other.hub.httpUrl, other.enrollmentToken(), identity, advertisement, Date.now(), trusted.hub.tls!.ca);
    expect(refused).toMatchObject({ kind: "unreachable" });
    expect((refused as { reason: string }).reason).toMatch(/certificate|verify/i);
    // Its own hub's CA works with the same call.
    const accepted = await registerOnce(other.hub.httpUrl, other.enrollmentToken(), identity, advertisement, Date.now(), other.hub.tls!.ca);
    expect(accepted.kind).toBe("registered");

    // MQTTS too: the other hub's broker, with this node's valid credentials, but the first hub's CA.
    const credentials = await registeredNode(other, "pinned-mqtt");
    const outcome = await mqttOutcome(credentials.url, {
      clientId: credentials.client_id,
      username: credentials.username,
      password: credentials.password,
      ca: trusted.hub.tls!.ca,
      rejectUnauthorized: true,
    });
    expect(outcome).toMatch(/certificate|verify/i);
  });

  test("an agent pinned to a CA does not send its broker password to a plaintext broker URL", async () => {
    const hub = await startTestHub({ tls: true, env: { EDGEFED_ALLOW_PLAINTEXT: "1", EDGEFED_PUBLIC_MQTT_URL: "mqtt://127.0.0.1:1" } });
    hubs.push(hub);
    const lines: string[] = [];
    const config = testAgentConfig(hub, "pinned-plain", { log: (line) => lines.push(line) });
    running.push(await Agent.start(config));
    await eventually(() => lines.some((line) => line.includes("plaintext broker URL")), 10_000, "the refusal in the agent's log");
  });
});

describe("TLS on: reload and plaintext allowed", () => {
  test("a reload serves a new certificate to new connections and keeps open sessions", async () => {
    const hub = await tlsHub();
    const config = testAgentConfig(hub, "reload-agent");
    const agent = await startOnlineAgent(hub, config, running);
    const credentials = await registeredNode(hub, "reload-probe");
    const session = await connectNode(credentials, { ca: hub.hub.tls!.ca });
    let closed = false;
    session.on("close", () => (closed = true));
    const brokerPort = Number(new URL(hub.hub.mqttUrl).port);
    const httpsPort = hub.hub.httpPort;
    const before = await presentedCertificate(brokerPort);

    // A missing server certificate is issued again at reload (as one due for renewal is).
    rmSync(join(hub.dataDir, TLS_DIR, "server.pem"));
    await hub.hub.reloadTls();

    expect((await presentedCertificate(brokerPort)).serialNumber).not.toBe(before.serialNumber);
    expect((await presentedCertificate(httpsPort)).serialNumber).not.toBe(before.serialNumber);
    // The new certificate chains to the same CA: pinned clients connect, and the API answers.
    (await connectNode(await registeredNode(hub, "reload-after"), { ca: hub.hub.tls!.ca })).end(true);
    expect((await hub.api("GET", "/health")).status).toBe(200);
    // Open sessions were not dropped.
    expect(closed).toBe(false);
    expect(session.connected).toBe(true);
    expect(agent.online).toBe(true);
    session.end(true);
  });

  test("with Mosquitto, a renewed certificate is served once the hub and Mosquitto reload (SIGHUP), and sessions stay", async () => {
    const dataDir = tempDir("edgefed-hub-");
    const mosquitto = await mosquittoForHub(dataDir);
    const hubLog: string[] = [];
    const hub = await tlsHub({ dataDir, mosquitto, log: (line) => hubLog.push(line) });
    const agentLog: string[] = [];
    await startOnlineAgent(hub, testAgentConfig(hub, "reload-mosquitto", { log: (line) => agentLog.push(line) }), running);
    const session = async () => (await hub.api("GET", "/federation/nodes/reload-mosquitto")).body.state.session;
    const sessionBefore = await session();
    const before = await presentedCertificate(mosquitto.port);

    rmSync(join(dataDir, TLS_DIR, "server.pem"));
    await hub.hub.reloadTls(); // issues the new certificate into the files Mosquitto's listener names
    mosquitto.reload();
    await eventually(async () => (await presentedCertificate(mosquitto.port)).serialNumber !== before.serialNumber, 10_000, "Mosquitto to serve the new certificate");
    expect((await presentedCertificate(hub.hub.httpPort)).serialNumber).not.toBe(before.serialNumber);
    (await connectNode(await registeredNode(hub, "reload-mosquitto-after"), { ca: hub.hub.tls!.ca })).end(true);
    // Neither the node's session nor the hub's was dropped.
    expect(await session()).toBe(sessionBefore);
    expect(agentLog.filter((line) => line.startsWith("offline"))).toEqual([]);
    expect(hubLog.filter((line) => line.includes("connection lost"))).toEqual([]);
  });

  test("EDGEFED_ALLOW_PLAINTEXT=1 keeps a plaintext MQTT listener beside MQTTS, and /health says so", async () => {
    const hub = await startTestHub({ tls: true, env: { EDGEFED_ALLOW_PLAINTEXT: "1" } });
    hubs.push(hub);
    expect((await hub.api("GET", "/health")).body).toMatchObject({ tls: true, plaintext: true });
    const credentials = await registeredNode(hub, "lab-node");
    expect(credentials.url).toStartWith("mqtts://");
    const plaintextPort = hub.hub.plaintextMqttPort;
    expect(plaintextPort).not.toBeNull();
    const outcome = await mqttOutcome(`mqtt://127.0.0.1:${plaintextPort}`, { clientId: credentials.client_id, username: credentials.username, password: credentials.password });
    expect(outcome).toBe("connected");
  });

  test("with TLS off (plaintext allowed), /health says everything is plaintext", async () => {
    const hub = await startTestHub({ tls: false });
    hubs.push(hub);
    expect((await hub.api("GET", "/health")).body).toMatchObject({ tls: false, plaintext: true });
  });
});
