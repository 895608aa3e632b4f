// Client certificates for mutual TLS, issued by the hub's own CA (the one
// nodes pin): a node sends a certificate request (its own ECDSA P-256 key,
// CN = its node id) with its registration and gets back a short-lived
// certificate for clientAuth. The hub issues one for its own broker
// connections too (CN = the MQTT user it logs in as), since a broker that
// requires client certificates requires them of the hub as well.
//
// The CSR is checked by openssl (its self-signature), its subject must be
// exactly CN=<node id> and its key P-256; the certificate carries only what
// the hub decides (validity, key usage), never an extension from the request.
// openssl runs without blocking: the hub answers other requests meanwhile.
import { X509Certificate, createPublicKey, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { opensslAsync } from "../../lib/openssl.ts";
import { CA_KEY_FILE, TLS_DIR } from "./hub-pki.ts";

/** How long a client certificate is valid; nodes renew at 2/3 of it (agent/client-certificate.ts). */
export const CLIENT_CERT_DAYS = 90;
/** The largest CSR accepted (a P-256 request is about 400 bytes of PEM). */
export const MAX_CSR_CHARS = 4096;

const CLIENT_EXTENSIONS = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth", ""].join("\n");

export interface IssuedCertificate {
  /** PEM. */
  cert: string;
  /** ms since the epoch. */
  expiresAt: number;
}

/** Issues client certificates with the CA in <dataDir>/tls (generated material only: an operator's CA key is not the hub's to use). */
export class ClientCertificateIssuer {
  private readonly caFile: string;
  private readonly caKeyFile: string;

  constructor(dataDir: string) {
    this.caFile = join(dataDir, TLS_DIR, "ca.pem");
    this.caKeyFile = join(dataDir, TLS_DIR, CA_KEY_FILE);
  }

  /** Why `csr` cannot be signed for `commonName`, or null when it can. */
  async csrProblem(csr: string, commonName: string): Promise<string | null> {
    if (csr.length > MAX_CSR_CHARS) return `csr is longer than ${MAX_CSR_CHARS} characters`;
    let output: string;
    try {
      output = await opensslAsync(["req", "-noout", "-verify", "-subject", "-pubkey", "-nameopt", "RFC2253"], { input: csr });
    } catch {
      return "csr is not a PEM certificate request with a valid self-signature";
    }
    const subject = /^subject=(.*)$/m.exec(output)?.[1]?.trim();
    if (subject !== `CN=${commonName}`) return `csr subject must be exactly CN=${commonName} (the node id), not ${subject ?? "empty"}`;
    const publicKey = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/.exec(output)?.[0];
    const details = publicKey ? createPublicKey(publicKey).asymmetricKeyDetails : undefined;
    if (details?.namedCurve !== "prime256v1") return "csr key must be ECDSA P-256";
    return null;
  }

  /** Signs a request already checked with csrProblem. */
  async issue(csr: string, commonName: string): Promise<IssuedCertificate> {
    const workDir = mkdtempSync(join(this.caFile, "..", "issue-"));
    try {
      const request = join(workDir, "request.csr");
      const extensions = join(workDir, "client.ext");
      writeFileSync(request, csr, { mode: 0o600 });
      writeFileSync(extensions, CLIENT_EXTENSIONS, { mode: 0o600 });
      const cert = await opensslAsync([
        "x509", "-req", "-sha256", "-in", request, "-CA", this.caFile, "-CAkey", this.caKeyFile,
        "-set_serial", `0x${randomBytes(16).toString("hex")}`, "-days", String(CLIENT_CERT_DAYS),
        "-subj", `/CN=${commonName}`, "-extfile", extensions,
      ]);
      return { cert, expiresAt: Date.parse(new X509Certificate(cert).validTo) };
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }

  /** A new key and a certificate for it, for the hub's own broker connections (kept in memory only). */
  async issueWithKey(commonName: string): Promise<IssuedCertificate & { key: string }> {
    const workDir = mkdtempSync(join(this.caFile, "..", "issue-"));
    try {
      const keyFile = join(workDir, "client.key");
      const csr = await opensslAsync(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyFile, "-subj", `/CN=${commonName}`]);
      const issued = await this.issue(csr, commonName);
      return { ...issued, key: readFileSync(keyFile, "utf8") };
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }
}
