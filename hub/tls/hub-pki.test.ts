// Tests for the hub's TLS material (hub-pki.ts), made by the real openssl:
// the CA and server certificate at first start, owner-only; kept across
// starts; issued again when it would expire, misses a name or the CA
// changed; an operator's files taken as they are, a mismatched key refused.
import { afterEach, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { cleanUp, tempDir } from "../../test/helpers.ts";
import { loadHubTls, RENEW_BEFORE_DAYS, TLS_DIR, type HubTlsSources } from "./hub-pki.ts";

afterEach(cleanUp);

const DAY_MS = 86_400_000;
const quiet = () => {};

function generated(dataDir: string, extraSans: string[] = []): HubTlsSources {
  return { dataDir, extraSans, certFile: "", keyFile: "", caFile: "" };
}

describe("generated TLS material", () => {
  test("first start makes a P-256 CA and a server certificate for loopback and the extra names, owner-only", () => {
    const dataDir = tempDir("edgefed-pki-");
    const lines: string[] = [];
    const tls = loadHubTls(generated(dataDir, ["hub.lan", "192.168.1.10"]), Date.now(), (line) => lines.push(line));
    const ca = new X509Certificate(tls.ca);
    const cert = new X509Certificate(tls.cert);
    expect(ca.ca).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(cert.ca).toBe(false);
    expect(cert.verify(ca.publicKey)).toBe(true);
    for (const name of ["localhost", "hub.lan"]) expect(cert.checkHost(name)).toBe(name);
    for (const ip of ["127.0.0.1", "192.168.1.10"]) expect(cert.checkIP(ip)).toBe(ip);
    expect(cert.checkHost("elsewhere.example")).toBeUndefined();
    expect(statSync(join(dataDir, TLS_DIR)).mode & 0o777).toBe(0o700);
    for (const file of ["ca.pem", "ca.key", "server.pem", "server.key"]) expect(statSync(join(dataDir, TLS_DIR, file)).mode & 0o777).toBe(0o600);
    expect(lines.join("\n")).toContain("created the hub's certificate authority");
    expect(lines.join("\n")).not.toContain("PRIVATE KEY");
  });

  test("a data dir given relative to the working directory works (npm start's ./data/hub)", () => {
    const workingDir = process.cwd();
    process.chdir(tempDir("edgefed-pki-"));
    try {
      const tls = loadHubTls(generated("data/hub"), Date.now(), quiet);
      expect(new X509Certificate(tls.cert).verify(new X509Certificate(tls.ca).publicKey)).toBe(true);
    } finally {
      process.chdir(workingDir);
    }
  });

  test("a later start keeps the CA and the certificate", () => {
    const dataDir = tempDir("edgefed-pki-");
    const first = loadHubTls(generated(dataDir), Date.now(), quiet);
    const lines: string[] = [];
    const again = loadHubTls(generated(dataDir), Date.now(), (line) => lines.push(line));
    expect(again.ca).toBe(first.ca);
    expect(again.cert).toBe(first.cert);
    expect(lines).toEqual([]);
  });

  test("the server certificate is issued again, with a new key, when it would expire soon; the CA stays", () => {
    const dataDir = tempDir("edgefed-pki-");
    const first = loadHubTls(generated(dataDir), Date.now(), quiet);
    const lines: string[] = [];
    const nearExpiry = first.expiresAt - (RENEW_BEFORE_DAYS - 1) * DAY_MS;
    const renewed = loadHubTls(generated(dataDir), nearExpiry, (line) => lines.push(line));
    expect(renewed.ca).toBe(first.ca);
    expect(renewed.cert).not.toBe(first.cert);
    expect(renewed.key).not.toBe(first.key);
    expect(lines.join("\n")).toContain("it expires");
    // Not yet due: kept.
    const kept = loadHubTls(generated(dataDir), first.expiresAt - (RENEW_BEFORE_DAYS + 1) * DAY_MS - DAY_MS, quiet);
    expect(kept.cert).toBe(renewed.cert);
  });

  test("a new extra name gets a certificate that covers it", () => {
    const dataDir = tempDir("edgefed-pki-");
    const first = loadHubTls(generated(dataDir), Date.now(), quiet);
    const lines: string[] = [];
    const wider = loadHubTls(generated(dataDir, ["hub.example"]), Date.now(), (line) => lines.push(line));
    expect(wider.cert).not.toBe(first.cert);
    expect(new X509Certificate(wider.cert).checkHost("hub.example")).toBe("hub.example");
    expect(lines.join("\n")).toContain("does not cover hub.example");
  });

  test("a CA key without its certificate stops start-up rather than silently making a new CA", () => {
    const dataDir = tempDir("edgefed-pki-");
    loadHubTls(generated(dataDir), Date.now(), quiet);
    rmSync(join(dataDir, TLS_DIR, "ca.pem"));
    expect(() => loadHubTls(generated(dataDir), Date.now(), quiet)).toThrow("exists without");
  });
});

describe("an operator's TLS material", () => {
  test("is taken by path as it is, and a key that is not the certificate's is refused", () => {
    const made = loadHubTls(generated(tempDir("edgefed-pki-")), Date.now(), quiet);
    const operator = { dataDir: tempDir("edgefed-pki-"), extraSans: [], certFile: made.certFile, keyFile: made.keyFile, caFile: made.caFile };
    const taken = loadHubTls(operator, Date.now(), quiet);
    expect(taken.source).toBe("operator");
    expect(taken.cert).toBe(made.cert);

    const other = loadHubTls(generated(tempDir("edgefed-pki-")), Date.now(), quiet);
    expect(() => loadHubTls({ ...operator, keyFile: other.keyFile }, Date.now(), quiet)).toThrow("is not the key of");
    expect(() => loadHubTls({ ...operator, caFile: "" }, Date.now(), quiet)).toThrow("missing: caFile");
  });
});
