// The Mosquitto listener that serves the hub's certificate: the lines an
// operator includes in mosquitto.conf (the hub writes them next to its
// certificates at every start, so the paths are right) and the test harness
// uses as they are. Mosquitto must be able to read the key: the files are
// owner-only, so run Mosquitto as the hub's user or copy them for it.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TLS_DIR, type HubTls } from "./hub-pki.ts";

export const MOSQUITTO_LISTENER_FILE = "mosquitto-tls.conf";
export const DEFAULT_MQTTS_PORT = 8883;

/**
 * mosquitto.conf lines for an MQTTS listener on `port` (and `host`, when given) with the hub's certificate.
 * `requireClientCert`: mutual TLS; a client needs a certificate from the hub's CA (cafile), and its CN
 * is the user it is (dynamic security then checks no password: the certificate is the credential).
 */
export function mosquittoTlsListener(tls: Pick<HubTls, "caFile" | "certFile" | "keyFile">, port: number, host?: string, requireClientCert = false): string[] {
  return [
    `listener ${port}${host ? ` ${host}` : ""}`,
    `cafile ${tls.caFile}`,
    `certfile ${tls.certFile}`,
    `keyfile ${tls.keyFile}`,
    "tls_version tlsv1.2",
    ...(requireClientCert ? ["require_certificate true", "use_identity_as_username true"] : []),
  ];
}

/** Writes the listener lines into <dataDir>/tls and returns the file's path. */
export function writeMosquittoTlsListener(dataDir: string, tls: HubTls, requireClientCert = false): string {
  mkdirSync(join(dataDir, TLS_DIR), { recursive: true, mode: 0o700 });
  const file = join(dataDir, TLS_DIR, MOSQUITTO_LISTENER_FILE);
  const lines = [
    "# Written by the edgefed hub at start: an MQTTS listener with the hub's certificate.",
    "# Include it in mosquitto.conf (include_dir, or copy the lines); mosquitto must be able to read the key.",
    ...mosquittoTlsListener(tls, DEFAULT_MQTTS_PORT, undefined, requireClientCert),
  ];
  writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  return file;
}
