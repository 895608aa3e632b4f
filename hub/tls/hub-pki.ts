// The hub's TLS material: its own certificate authority and a server
// certificate it issues for its host names and addresses, or an operator's
// certificate, key and CA taken by path (Let's Encrypt, a company CA).
//
// Generated material lives in <data dir>/tls (0700, every file 0600): the
// CA (ECDSA P-256, ten years) is made once, at first start, because nodes pin
// it from their cards; the server certificate is issued again, at start and
// at every reload, when it is missing, expires within RENEW_BEFORE_DAYS, no
// longer chains to the CA or does not cover a wanted name. Certificates are
// made by the openssl command (openssl.ts); node:crypto's X509Certificate
// reads them back.
import { X509Certificate, createPrivateKey, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { openssl } from "../../lib/openssl.ts";

export const TLS_DIR = "tls";
export const CA_CERT_FILE = "ca.pem";
export const CA_KEY_FILE = "ca.key";
const SERVER_CERT_FILE = "server.pem";
const SERVER_KEY_FILE = "server.key";
const CA_DAYS = 3650;
/** Browsers' limit for a server certificate; the hub renews long before. */
const SERVER_DAYS = 397;
export const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 86_400_000;

export interface HubTls {
  /** PEM: what clients trust (nodes pin it from their cards). */
  ca: string;
  /** PEM: the server certificate (an operator's may carry its chain). */
  cert: string;
  /** PEM: the server certificate's private key. */
  key: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  source: "generated" | "operator";
  /** When the server certificate expires (ms since the epoch). */
  expiresAt: number;
}

export interface HubTlsSources {
  dataDir: string;
  /** Names and addresses the server certificate covers beyond the defaults (generated material only). */
  extraSans: string[];
  /** An operator's certificate, key and CA; all three or none. */
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** The names and addresses a generated server certificate covers: loopback, this host's name, and the extra ones. */
export function serverSans(extra: string[]): string[] {
  return [...new Set(["localhost", "127.0.0.1", "::1", hostname(), ...extra].filter((name) => name !== ""))];
}

/** Loads the TLS material, generating or renewing what is missing or due; says in `log` what it did. */
export function loadHubTls(sources: HubTlsSources, now: number, log: (line: string) => void): HubTls {
  if (sources.certFile || sources.keyFile || sources.caFile) return loadOperatorTls(sources, now, log);
  return loadGeneratedTls(sources, now, log);
}

function loadOperatorTls(sources: HubTlsSources, now: number, log: (line: string) => void): HubTls {
  const missing = (["certFile", "keyFile", "caFile"] as const).filter((key) => !sources[key]);
  if (missing.length) throw new Error(`TLS: an operator's certificate needs EDGEFED_TLS_CERT, EDGEFED_TLS_KEY and EDGEFED_TLS_CA together (missing: ${missing.join(", ")})`);
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (error) {
      throw new Error(`TLS: cannot read the ${what} ${file}: ${(error as Error).message}`);
    }
  };
  const material: HubTls = {
    ca: read(sources.caFile, "CA certificate"),
    cert: read(sources.certFile, "server certificate"),
    key: read(sources.keyFile, "server key"),
    caFile: sources.caFile,
    certFile: sources.certFile,
    keyFile: sources.keyFile,
    source: "operator",
    expiresAt: 0,
  };
  const cert = parseCertificate(material.cert, sources.certFile);
  parseCertificate(material.ca, sources.caFile);
  if (!cert.checkPrivateKey(createPrivateKey(material.key))) throw new Error(`TLS: ${sources.keyFile} is not the key of ${sources.certFile}`);
  material.expiresAt = Date.parse(cert.validTo);
  if (material.expiresAt - now < RENEW_BEFORE_DAYS * DAY_MS) {
    log(`TLS: the operator's certificate ${sources.certFile} expires ${cert.validTo}: renew it and send the hub SIGHUP`);
  }
  return material;
}

function loadGeneratedTls(sources: HubTlsSources, now: number, log: (line: string) => void): HubTls {
  const dir = join(sources.dataDir, TLS_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const caFile = join(dir, CA_CERT_FILE);
  const caKeyFile = join(dir, CA_KEY_FILE);
  const certFile = join(dir, SERVER_CERT_FILE);
  const keyFile = join(dir, SERVER_KEY_FILE);

  if (!existsSync(caFile)) {
    if (existsSync(caKeyFile)) throw new Error(`TLS: ${caKeyFile} exists without ${caFile}: restore the CA certificate (nodes pin it) or remove both to make a new CA`);
    createCa(caKeyFile, caFile);
    log(`TLS: created the hub's certificate authority ${caFile} (nodes trust this file: flash puts it on their cards)`);
  }
  const ca = readFileSync(caFile, "utf8");
  const sans = serverSans(sources.extraSans);
  const due = serverCertificateDue(certFile, keyFile, ca, sans, now);
  if (due) {
    if (!existsSync(caKeyFile)) throw new Error(`TLS: the server certificate must be issued again (${due}) but the CA key ${caKeyFile} is missing`);
    issueServerCertificate(dir, caFile, caKeyFile, certFile, keyFile, sans);
    log(`TLS: issued the server certificate ${certFile} for ${sans.join(", ")} (${due})`);
  }
  const cert = readFileSync(certFile, "utf8");
  return {
    ca,
    cert,
    key: readFileSync(keyFile, "utf8"),
    caFile,
    certFile,
    keyFile,
    source: "generated",
    expiresAt: Date.parse(new X509Certificate(cert).validTo),
  };
}

/** Why the server certificate must be issued (again), or null when it is good. */
function serverCertificateDue(certFile: string, keyFile: string, caPem: string, sans: string[], now: number): string | null {
  if (!existsSync(certFile) || !existsSync(keyFile)) return "none yet";
  const cert = new X509Certificate(readFileSync(certFile, "utf8"));
  const ca = new X509Certificate(caPem);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return "it was not issued by the current CA";
  if (!cert.checkPrivateKey(createPrivateKey(readFileSync(keyFile, "utf8")))) return "its key does not match";
  if (Date.parse(cert.validTo) - now < RENEW_BEFORE_DAYS * DAY_MS) return `it expires ${cert.validTo}`;
  const uncovered = sans.filter((name) => (isIP(name) ? cert.checkIP(name) === undefined : cert.checkHost(name) === undefined));
  if (uncovered.length) return `it does not cover ${uncovered.join(", ")}`;
  return null;
}

function createCa(caKeyFile: string, caFile: string): void {
  openssl(
    [
      "req", "-x509", "-new", "-sha256", "-nodes",
      "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
      "-keyout", caKeyFile, "-out", caFile, "-days", String(CA_DAYS),
      "-subj", `/CN=edgefed hub CA ${hostname()} ${randomBytes(4).toString("hex")}`,
      "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ],
  );
  ownerOnly(caKeyFile, caFile);
}

function issueServerCertificate(dir: string, caFile: string, caKeyFile: string, certFile: string, keyFile: string, sans: string[]): void {
  const request = join(dir, "server.csr");
  const extensions = join(dir, "server.ext");
  const altNames = sans.map((name) => (isIP(name) ? `IP:${name}` : `DNS:${name}`)).join(",");
  writeFileSync(
    extensions,
    ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth", `subjectAltName=${altNames}`, ""].join("\n"),
    { mode: 0o600 },
  );
  // A new key with every certificate: a renewal also retires the old key.
  const newKey = `${keyFile}.new`;
  const newCert = `${certFile}.new`;
  try {
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", newKey]);
    ownerOnly(newKey);
    openssl(["req", "-new", "-sha256", "-key", newKey, "-subj", `/CN=${sans.find((name) => !isIP(name)) ?? "edgefed hub"}`, "-out", request]);
    openssl([
      "x509", "-req", "-sha256", "-in", request, "-CA", caFile, "-CAkey", caKeyFile,
      "-set_serial", `0x${randomBytes(16).toString("hex")}`, "-days", String(SERVER_DAYS), "-extfile", extensions, "-out", newCert,
    ]);
    ownerOnly(newCert);
    // Key first, then certificate: a crash between leaves a pair the next start finds mismatched and issues again.
    writeFileSync(keyFile, readFileSync(newKey), { mode: 0o600 });
    writeFileSync(certFile, readFileSync(newCert), { mode: 0o600 });
    ownerOnly(keyFile, certFile);
  } finally {
    for (const file of [request, extensions, newKey, newCert]) rmSync(file, { force: true });
  }
}

function ownerOnly(...files: string[]): void {
  for (const file of files) chmodSync(file, 0o600);
}

function parseCertificate(pem: string, file: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new Error(`TLS: ${file} is not a PEM certificate: ${(error as Error).message}`);
  }
}
