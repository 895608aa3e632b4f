// The node's client certificate files: the request names the node and keeps
// one owner-only P-256 key, renewal is due at 2/3 of the validity, and a
// certificate that is not for this key or not from a trusted CA is not kept.
import { afterAll, describe, expect, test } from "bun:test";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { loadHubTls } from "../hub/tls/hub-pki.ts";
import { ClientCertificateIssuer, CLIENT_CERT_DAYS } from "../hub/tls/client-certificates.ts";
import { cleanUp, tempDir } from "../test/helpers.ts";
import { ClientCertificateFiles, RENEW_AT_FRACTION } from "./client-certificate.ts";

afterAll(cleanUp);

const DAY_MS = 86_400_000;

function hubCa() {
  const dataDir = tempDir("edgefed-hub-");
  const material = loadHubTls({ dataDir, extraSans: [], certFile: "", keyFile: "", caFile: "" }, Date.now(), () => {});
  return { ca: material.ca, issuer: new ClientCertificateIssuer(dataDir) };
}

describe("ClientCertificateFiles", async () => {
  test("one P-256 key, owner-only, reused by every request; the request names the node", async () => {
    const files = new ClientCertificateFiles(tempDir("edgefed-agent-"), "pi-7");
    const { issuer } = hubCa();
    const first = files.request();
    expect(await issuer.csrProblem(first, "pi-7")).toBeNull();
    expect(await issuer.csrProblem(first, "pi-8")).toContain("CN=pi-8");
    const key = readFileSync(files.keyFile, "utf8");
    expect(createPrivateKey(key).asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(statSync(files.keyFile).mode & 0o777).toBe(0o600);
    files.request();
    expect(readFileSync(files.keyFile, "utf8")).toBe(key);
  });

  test("renewal is due at 2/3 of the validity, and at once without a certificate", async () => {
    const files = new ClientCertificateFiles(tempDir("edgefed-agent-"), "pi-renew");
    const now = Date.now();
    expect(files.renewAt(now)).toBe(now);
    const { ca, issuer } = hubCa();
    expect(files.save((await issuer.issue(files.request(), "pi-renew")).cert, ca)).toBeNull();
    const cert = new X509Certificate(files.load()!.cert);
    const from = Date.parse(cert.validFrom);
    expect(Date.parse(cert.validTo) - from).toBe(CLIENT_CERT_DAYS * DAY_MS);
    expect(files.renewAt(now)).toBe(from + CLIENT_CERT_DAYS * DAY_MS * RENEW_AT_FRACTION);
    expect(statSync(files.certFile).mode & 0o777).toBe(0o600);
  });

  test("a certificate for another key or from an untrusted CA is not kept", async () => {
    const files = new ClientCertificateFiles(tempDir("edgefed-agent-"), "pi-check");
    files.request();
    const { ca, issuer } = hubCa();
    const other = new ClientCertificateFiles(tempDir("edgefed-agent-"), "pi-check");
    expect(files.save((await issuer.issue(other.request(), "pi-check")).cert, ca)).toContain("not for this node's TLS key");
    const foreign = hubCa();
    expect(files.save((await foreign.issuer.issue(files.request(), "pi-check")).cert, ca)).toContain("not issued by a CA this node trusts");
    // Either CA of a bundle (the pinned one and an announced one) is trusted.
    expect(files.save((await foreign.issuer.issue(files.request(), "pi-check")).cert, `${ca}\n${foreign.ca}`)).toBeNull();
    expect(files.load()).not.toBeNull();
  });
});
