// TLS for tests, now that the hub speaks only HTTPS and MQTTS unless told
// otherwise. One test PKI per test process: a CA and a server certificate
// the hub's own code makes (hub/tls/hub-pki.ts, by openssl), made once and
// copied into each test hub's data dir before it starts, so every test hub,
// every test Mosquitto and the test browser share one trust anchor and one
// server key. That saves the openssl runs of every hub, and lets Chromium pin
// the server key before any hub exists. A test that needs a CA of its own (a
// node pinning one hub and meeting another) asks startTestHub({ ownCa: true })
// and says trustTestCa() nothing: its CA is trusted only where it passes it.
import { createHash, createPublicKey } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CA_CERT_FILE, loadHubTls, TLS_DIR, type HubTls } from "../../hub/tls/hub-pki.ts";

/** The files of a generated hub PKI (hub-pki.ts names them); the CA key too, so a seeded hub can renew. */
const PKI_FILES = [CA_CERT_FILE, "ca.key", "server.pem", "server.key"];

let shared: HubTls | null = null;
let sharedDir: string | null = null;
const extraCas = new Set<string>();

/** The test run's PKI, made on first use (again if a test removed it) and removed when the process exits. */
export function sharedTestTls(): HubTls {
  if (shared && existsSync(shared.caFile) && existsSync(shared.keyFile)) return shared;
  if (sharedDir === null) {
    sharedDir = mkdtempSync(join(tmpdir(), "edgefed-test-pki-"));
    const dir = sharedDir;
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  shared = loadHubTls({ dataDir: sharedDir, extraSans: [], certFile: "", keyFile: "", caFile: "" }, Date.now(), () => {});
  return shared;
}

/** Gives a hub data dir the run's PKI, unless it has TLS material already (a restart keeps its own). */
export function seedTestTls(dataDir: string): void {
  const target = join(dataDir, TLS_DIR);
  if (existsSync(join(target, CA_CERT_FILE))) return;
  const source = join(sharedTestTls().caFile, "..");
  mkdirSync(target, { recursive: true, mode: 0o700 });
  for (const file of PKI_FILES) copyFileSync(join(source, file), join(target, file));
}

/** The CA file of a hub data dir (what an agent process or a spawned hub's client is given). */
export function hubCaFile(dataDir: string): string {
  return join(dataDir, TLS_DIR, CA_CERT_FILE);
}

/** Trust `ca` too wherever the harness trusts test hubs (connectNode, testFetch, dashboard clients). */
export function trustTestCa(ca: string): void {
  extraCas.add(ca);
}

/** Every CA the harness trusts: the run's and those trustTestCa() added. */
export function trustedTestCas(): string[] {
  return [sharedTestTls().ca, ...extraCas];
}

/** fetch() trusting the test CAs (only those: not the system store) for https URLs. */
export function testFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
  const https = String(url).startsWith("https:");
  return fetch(url, https ? { ...init, tls: { ca: trustedTestCas() } } : init);
}

/** base64(sha256(SubjectPublicKeyInfo)) of the run's server key: what Chromium's --ignore-certificate-errors-spki-list pins. */
export function testServerSpki(): string {
  const spki = createPublicKey(sharedTestTls().key).export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("base64");
}
