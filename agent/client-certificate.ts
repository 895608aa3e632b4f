// The node's client certificate for mutual TLS: its own TLS key (ECDSA
// P-256, made once, never leaves the data dir) and the certificate the hub's
// CA issued for it at registration. Both live in <data dir>/tls, owner-only.
// The request (CSR, CN = node id) is made with the openssl command, as the
// hub makes its certificates; without openssl the node registers without one
// (a hub that requires client certificates then refuses it on MQTTS).
//
// Renewal: once 2/3 of the certificate's validity has passed the node
// registers again (with its signed proof, as any re-registration) and sends
// the request again; the hub answers with a new certificate.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openssl } from "../lib/openssl.ts";
import type { ClientCertificate } from "../lib/mqtt-url.ts";
import { pemCertificates } from "../lib/pem.ts";

export const CLIENT_TLS_DIR = "tls";
const KEY_FILE = "client.key";
const CERT_FILE = "client.pem";
/** The share of a certificate's validity after which the node asks for a new one. */
export const RENEW_AT_FRACTION = 2 / 3;

export class ClientCertificateFiles {
  readonly keyFile: string;
  readonly certFile: string;

  constructor(
    dataDir: string,
    private readonly nodeId: string,
  ) {
    const dir = join(dataDir, CLIENT_TLS_DIR);
    this.keyFile = join(dir, KEY_FILE);
    this.certFile = join(dir, CERT_FILE);
  }

  /** A certificate request for this node's TLS key (made on first use); throws with openssl's message when it cannot. */
  request(): string {
    if (!existsSync(this.keyFile)) {
      mkdirSync(join(this.keyFile, ".."), { recursive: true, mode: 0o700 });
      const newKey = `${this.keyFile}.new`;
      openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", newKey]);
      chmodSync(newKey, 0o600);
      renameSync(newKey, this.keyFile); // whole or not at all
    }
    return openssl(["req", "-new", "-sha256", "-key", this.keyFile, "-subj", `/CN=${this.nodeId}`]);
  }

  /**
   * Keeps the certificate the hub issued (0600), replacing the previous one in one step;
   * returns why it did not (not for this node's key, not from a trusted CA: `caPem` may be a bundle), or null.
   */
  save(certPem: string, caPem: string): string | null {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch {
      return "the hub's client certificate is not a PEM certificate";
    }
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(this.keyFile, "utf8")))) return "the hub's client certificate is not for this node's TLS key";
    const issuers = pemCertificates(caPem).map((pem) => new X509Certificate(pem));
    if (caPem && !issuers.some((ca) => cert.verify(ca.publicKey))) return "the hub's client certificate was not issued by a CA this node trusts for its hub";
    const next = `${this.certFile}.new`;
    writeFileSync(next, certPem, { mode: 0o600 });
    renameSync(next, this.certFile);
    return null;
  }

  /** The certificate and key to present, or null while the node has none. */
  load(): ClientCertificate | null {
    if (!existsSync(this.certFile) || !existsSync(this.keyFile)) return null;
    return { cert: readFileSync(this.certFile, "utf8"), key: readFileSync(this.keyFile, "utf8") };
  }

  /** When the certificate should be renewed (ms since the epoch): now when there is none or it cannot be read. */
  renewAt(now: number): number {
    const current = this.load();
    if (!current) return now;
    try {
      const cert = new X509Certificate(current.cert);
      const from = Date.parse(cert.validFrom);
      return from + (Date.parse(cert.validTo) - from) * RENEW_AT_FRACTION;
    } catch {
      return now;
    }
  }
}
