// The hub's CA changes only by a deliberate act: the operator announces the
// new CA (POST /api/federation/tls/ca), the hub sends it to every node signed
// with its key; a node trusts it beside the CA it pinned, and once the hub
// serves a certificate from the new CA (here: the new CA files in the hub's
// data dir and a restart on the same ports) the node reaches it and pins the
// new CA only. An announcement signed by another key changes nothing. TLS on
// explicitly, embedded broker.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Agent } from "../agent/agent.ts";
import { CLIENT_TLS_DIR } from "../agent/client-certificate.ts";
import { CA_KEY_FILE, CA_CERT_FILE, loadHubTls, TLS_DIR } from "../hub/tls/hub-pki.ts";
import { generateKeyPair, signMessage } from "../protocol/signing.ts";
import { deliveryOf, HUB_CA_TOPIC } from "../protocol/topics.ts";
import { cleanUp, tempDir } from "./helpers.ts";
import { startOnlineAgent, testAgentConfig } from "./support/agent-harness.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";

const running: Agent[] = [];
const hubs: TestHub[] = [];

afterEach(async () => {
  for (const agent of running.splice(0)) await agent.stop();
  for (const hub of hubs.splice(0)) await hub.stop();
});
afterAll(cleanUp);

async function tlsHub(options: Parameters<typeof startTestHub>[0] = {}): Promise<TestHub> {
  const hub = await startTestHub({ tls: true, ...options });
  hubs.push(hub);
  return hub;
}

/** A new CA, made as the hub makes its own, in a directory of its own. */
function newCa(): { dir: string; pem: string } {
  const dir = tempDir("edgefed-new-ca-");
  const material = loadHubTls({ dataDir: dir, extraSans: [], certFile: "", keyFile: "", caFile: "" }, Date.now(), () => {});
  return { dir, pem: material.ca };
}

describe("a CA change announced by the hub", () => {
  test("the node trusts the new CA beside the old until the hub serves it, then pins only the new one", async () => {
    const dataDir = tempDir("edgefed-hub-");
    const hub = await tlsHub({ dataDir });
    const lines: string[] = [];
    const config = testAgentConfig(hub, "ca-change-node", { log: (line) => lines.push(line) });
    await startOnlineAgent(hub, config, running);
    const nextFile = join(config.dataDir, CLIENT_TLS_DIR, "hub-ca.next.pem");
    const adoptedFile = join(config.dataDir, CLIENT_TLS_DIR, "hub-ca.pem");

    const replacement = newCa();
    const announced = await hub.api("POST", "/api/federation/tls/ca", { ca: replacement.pem });
    expect(announced.status).toBe(202);
    await eventually(() => existsSync(nextFile), 10_000, "the node to keep the announced CA");
    expect(readFileSync(nextFile, "utf8").trim()).toBe(replacement.pem.trim());
    expect(existsSync(adoptedFile)).toBe(false); // not yet: the hub still serves the old CA's certificate

    // The operator switches the hub to the new CA and restarts it on the same ports.
    const ports = { EDGEFED_HTTP_PORT: String(hub.hub.httpPort), EDGEFED_MQTTS_PORT: new URL(hub.hub.mqttUrl).port };
    await hub.stop();
    hubs.splice(hubs.indexOf(hub), 1);
    for (const file of [CA_CERT_FILE, CA_KEY_FILE]) copyFileSync(join(replacement.dir, TLS_DIR, file), join(dataDir, TLS_DIR, file));
    rmSync(join(dataDir, TLS_DIR, "server.pem")); // issued again, by the new CA
    const switched = await tlsHub({ dataDir, env: ports });
    expect(switched.hub.tls!.ca.trim()).toBe(replacement.pem.trim());

    await eventually(() => existsSync(adoptedFile) && !existsSync(nextFile), 15_000, () => `the node to pin the new CA; its log:\n${lines.join("\n")}`);
    expect(readFileSync(adoptedFile, "utf8").trim()).toBe(replacement.pem.trim());
    await eventually(() => running[0]!.online, 10_000, "the node online with the new CA");
  });

  test("an announcement signed by another key, or not a CA, changes nothing", async () => {
    const hub = await tlsHub();
    const lines: string[] = [];
    const config = testAgentConfig(hub, "ca-forged-node", { log: (line) => lines.push(line) });
    await startOnlineAgent(hub, config, running);
    const forged = signMessage({ ca: newCa().pem, issuedAt: Date.now() }, generateKeyPair().privateKey);
    await hub.hub.context.publish(HUB_CA_TOPIC, JSON.stringify(forged), deliveryOf("hub/ca"));
    await eventually(() => lines.some((line) => line.includes("not signed by this node's hub key")), 10_000, "the refusal in the node's log");
    expect(existsSync(join(config.dataDir, CLIENT_TLS_DIR, "hub-ca.next.pem"))).toBe(false);

    // The hub's own API refuses what is not a CA certificate: its server certificate, or garbage.
    const serverCert = readFileSync(join(hub.dataDir, TLS_DIR, "server.pem"), "utf8");
    expect((await hub.api("POST", "/api/federation/tls/ca", { ca: serverCert })).body).toMatchObject({ error: "invalid_ca" });
    expect((await hub.api("POST", "/api/federation/tls/ca", { ca: "not a certificate" })).status).toBe(400);
  });
});
