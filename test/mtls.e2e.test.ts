// Mutual TLS end to end, on both brokers, TLS on explicitly: a node sends a
// certificate request with its registration and gets a client certificate
// from the hub's CA; with EDGEFED_REQUIRE_CLIENT_CERT=1 a node presenting it
// connects and heartbeats, a node without one is refused on MQTTS (while
// registering still works without one), a request or certificate naming
// another node is refused, and a certificate due for renewal is renewed by
// registering again. Mosquitto runs a real listener with require_certificate
// and use_identity_as_username, as the hub writes it.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { Agent } from "../agent/agent.ts";
import { CLIENT_TLS_DIR, ClientCertificateFiles } from "../agent/client-certificate.ts";
import { openssl } from "../lib/openssl.ts";
import { CA_KEY_FILE, loadHubTls, TLS_DIR } from "../hub/tls/hub-pki.ts";
import { cleanUp, tempDir } from "./helpers.ts";
import { startOnlineAgent, testAgentConfig } from "./support/agent-harness.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type NodeCredentials, type TestHub } from "./support/hub-harness.ts";
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

/** Registers `nodeId` over HTTPS, with a certificate request when `withCsr`; returns its MQTT credentials and client certificate. */
async function registerNode(hub: TestHub, nodeId: string, withCsr: boolean) {
  const files = new ClientCertificateFiles(tempDir("edgefed-node-"), nodeId);
  const node = newNode(nodeId);
  const response = await hub.api("POST", "/federation/register", registerBody(node, withCsr ? { csr: files.request() } : {}), hub.enrollmentToken());
  expect(response.status).toBe(201);
  const issued = response.body.client_certificate as { cert: string; expires_at: number } | undefined;
  if (issued) expect(files.save(issued.cert, hub.hub.tls!.ca)).toBeNull();
  return { credentials: response.body.mqtt as NodeCredentials, certificate: files.load(), issued, files };
}

/** "connected", or the error that refused the connection. */
async function outcome(hub: TestHub, credentials: NodeCredentials, clientCertificate: { cert: string; key: string } | null, clientId?: string): Promise<string> {
  try {
    (await connectNode(credentials, { ca: hub.hub.tls!.ca, clientCertificate, clientId })).end(true);
    return "connected";
  } catch (error) {
    return (error as Error).message;
  }
}

const BROKERS = [
  { name: "embedded broker", mosquitto: false },
  { name: "Mosquitto", mosquitto: true },
] as const;

for (const { name, mosquitto } of BROKERS) {
  describe(`mutual TLS required, ${name}`, () => {
    async function start(): Promise<TestHub> {
      const dataDir = tempDir("edgefed-hub-");
      let broker: RunningMosquitto | undefined;
      if (mosquitto) {
        // The hub's material made first, as an operator would, for Mosquitto's listener.
        const material = loadHubTls({ dataDir, extraSans: [], certFile: "", keyFile: "", caFile: "" }, Date.now(), () => {});
        broker = await startMosquitto({ dynsec: true, tls: material, requireClientCert: true });
        brokers.push(broker);
      }
      const hub = await startTestHub({ dataDir, tls: true, env: { EDGEFED_REQUIRE_CLIENT_CERT: "1" }, ...(broker ? { mosquitto: broker } : {}) });
      hubs.push(hub);
      return hub;
    }

    test("an agent gets a client certificate at registration, keeps it owner-only and heartbeats with it", async () => {
      const hub = await start();
      const config = testAgentConfig(hub, "mtls-agent");
      await startOnlineAgent(hub, config, running);
      const firstBeat = await eventually(async () => (await hub.api("GET", "/federation/nodes/mtls-agent")).body.heartbeat?.last_at, 10_000, "a heartbeat");
      await eventually(async () => (await hub.api("GET", "/federation/nodes/mtls-agent")).body.heartbeat?.last_at > firstBeat, 10_000, "a later heartbeat");
      for (const file of ["client.key", "client.pem"]) expect(statSync(join(config.dataDir, CLIENT_TLS_DIR, file)).mode & 0o777).toBe(0o600);
      const cert = new X509Certificate(new ClientCertificateFiles(config.dataDir, "mtls-agent").load()!.cert);
      expect(cert.subject).toBe("CN=mtls-agent");
      expect(cert.checkIssued(new X509Certificate(hub.hub.tls!.ca))).toBe(true);
      const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
      expect(days).toBe(90);
    });

    test("a node without a client certificate registers, but is refused on MQTTS; with its certificate it connects", async () => {
      const hub = await start();
      const plain = await registerNode(hub, "mtls-without", false);
      expect(plain.issued).toBeUndefined();
      expect(await outcome(hub, plain.credentials, null)).not.toBe("connected");
      const withCert = await registerNode(hub, "mtls-with", true);
      expect(await outcome(hub, withCert.credentials, withCert.certificate)).toBe("connected");
    });

    test("a request naming another node is refused at registration, and a certificate from another CA on MQTTS", async () => {
      const hub = await start();
      const files = new ClientCertificateFiles(tempDir("edgefed-node-"), "mtls-other-name");
      const refused = await hub.api("POST", "/federation/register", registerBody(newNode("mtls-victim"), { csr: files.request() }), hub.enrollmentToken());
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ error: "invalid_csr" });
      expect(refused.body.detail).toContain("CN=mtls-victim");
      // A certificate for the right name from a CA that is not the hub's.
      const node = await registerNode(hub, "mtls-foreign", true);
      const foreignDir = tempDir("edgefed-ca-");
      const foreign = loadHubTls({ dataDir: foreignDir, extraSans: [], certFile: "", keyFile: "", caFile: "" }, Date.now(), () => {});
      const foreignCert = openssl(["x509", "-req", "-in", "/dev/stdin", "-CA", foreign.caFile, "-CAkey", join(foreignDir, TLS_DIR, CA_KEY_FILE), "-days", "1"], { input: node.files.request() });
      expect(await outcome(hub, node.credentials, { cert: foreignCert, key: node.certificate!.key })).not.toBe("connected");
    });

    test("a node whose client certificate is due registers again and gets a new one", async () => {
      const hub = await start();
      const config = testAgentConfig(hub, "mtls-renew");
      const agent = await startOnlineAgent(hub, config, running);
      const files = new ClientCertificateFiles(config.dataDir, "mtls-renew");
      const first = new X509Certificate(files.load()!.cert);
      await agent.stop();
      running.splice(running.indexOf(agent), 1);
      // Past its renewal point: a certificate from the hub's CA for the node's key that ends now.
      const due = openssl(["x509", "-req", "-in", "/dev/stdin", "-CA", join(hub.dataDir, TLS_DIR, "ca.pem"), "-CAkey", join(hub.dataDir, TLS_DIR, CA_KEY_FILE), "-days", "0"], { input: files.request() });
      writeFileSync(files.certFile, due, { mode: 0o600 });
      expect(files.renewAt(Date.now())).toBeLessThanOrEqual(Date.now());
      const lines: string[] = [];
      running.push(await Agent.start({ ...config, log: (line) => lines.push(line) }));
      await eventually(() => files.renewAt(Date.now()) > Date.now() + 50 * 86_400_000, 10_000, "a renewed certificate");
      const renewed = new X509Certificate(files.load()!.cert);
      expect(renewed.serialNumber).not.toBe(first.serialNumber);
      expect(lines.some((line) => line.includes("renewing the client certificate"))).toBe(true);
      // And it is back online with it.
      await eventually(async () => (await hub.api("GET", "/federation/nodes/mtls-renew")).body.state?.state === "online" && running[0]!.online, 10_000, "online with the renewed certificate");
    });
  });
}

describe("mutual TLS required, embedded broker: identities", () => {
  test("a node presenting another node's certificate is refused, its own password notwithstanding", async () => {
    const hub = await startTestHub({ tls: true, env: { EDGEFED_REQUIRE_CLIENT_CERT: "1" } });
    hubs.push(hub);
    const alice = await registerNode(hub, "mtls-alice", true);
    const mallory = await registerNode(hub, "mtls-mallory", true);
    expect(await outcome(hub, mallory.credentials, alice.certificate)).toMatch(/bad user name or password|Not authorized|Connection refused/i);
    expect(await outcome(hub, mallory.credentials, mallory.certificate)).toBe("connected");
  });
});

describe("mutual TLS required, Mosquitto: identities", () => {
  test("the certificate is the identity (use_identity_as_username): another node's certificate grants none of this node's topics", async () => {
    const dataDir = tempDir("edgefed-hub-");
    const material = loadHubTls({ dataDir, extraSans: [], certFile: "", keyFile: "", caFile: "" }, Date.now(), () => {});
    const broker = await startMosquitto({ dynsec: true, tls: material, requireClientCert: true });
    brokers.push(broker);
    const hub = await startTestHub({ dataDir, tls: true, env: { EDGEFED_REQUIRE_CLIENT_CERT: "1" }, mosquitto: broker });
    hubs.push(hub);
    const alice = await registerNode(hub, "mtls-m-alice", true);
    const mallory = await registerNode(hub, "mtls-m-mallory", true);
    // Mallory's user name and password with Alice's certificate: Mosquitto takes the certificate's CN as the user.
    const client = await connectNode(mallory.credentials, { ca: hub.hub.tls!.ca, clientCertificate: alice.certificate, clientId: "mtls-m-intruder" });
    await expect(client.subscribeAsync("edgefed/v1/nodes/mtls-m-mallory/cmd", { qos: 1 })).rejects.toThrow(/Subscribe error/);
    expect((await client.subscribeAsync("edgefed/v1/nodes/mtls-m-alice/cmd", { qos: 1 }))[0]!.qos).toBe(1);
    client.end(true);
  });
});
