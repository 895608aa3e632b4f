// The hub's own secrets: its Ed25519 key pair (signs decisions and policies;
// nodes pin the public half at registration), the admin token's hash and the
// watch token's and the metrics token's. All are created once and kept in the registry.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, type Ed25519KeyPair } from "../../protocol/signing.ts";
import { hashSecret, randomSecret } from "./secrets.ts";
import type { HubStore } from "../store/hub-store.ts";

export interface HubIdentity {
  keys: Ed25519KeyPair;
  adminTokenHash: string;
  /** The read-only watcher's password on the embedded broker: not the admin token, so watching grants no admin rights. */
  watchTokenHash: string;
  /** The bearer token of GET /metrics: a scraper's, which opens nothing else. */
  metricsTokenHash: string;
}

export const ADMIN_TOKEN_FILE = "admin-token";
export const WATCH_TOKEN_FILE = "watch-token";
export const METRICS_TOKEN_FILE = "metrics-token";

/**
 * Loads or creates the hub's identity. A configured token wins; without one,
 * a token is generated at first start and written owner-only to
 * `<dataDir>/admin-token` (and `watch-token`) rather than printed, because
 * logs are kept and copied around and a secret in them is a secret leaked.
 */
export async function loadHubIdentity(
  store: HubStore,
  dataDir: string,
  configured: { adminToken: string; watchToken: string; metricsToken: string },
  log: (line: string) => void,
): Promise<HubIdentity> {
  let keysJson = await store.hubValues.get("hub_keys");
  if (!keysJson) {
    const generated = JSON.stringify(generateKeyPair());
    await store.write((tx) => tx.hubValues.put("hub_keys", generated));
    keysJson = generated;
  }
  const keys = JSON.parse(keysJson) as Ed25519KeyPair;
  const tokenHash = async (given: string, setting: string, file: string, what: string): Promise<string> => {
    if (given) return hashSecret(given);
    const stored = await store.hubValues.get(setting);
    if (stored) return stored;
    const token = randomSecret(32);
    const path = join(dataDir, file);
    writeFileSync(path, `${token}\n`, { mode: 0o600 });
    chmodSync(path, 0o600); // the mode above applies only to a file that did not exist
    const hash = hashSecret(token);
    await store.write((tx) => tx.hubValues.put(setting, hash));
    log(`generated ${what} into ${path} (owner-only); read it from there`);
    return hash;
  };
  const adminTokenHash = await tokenHash(configured.adminToken, "admin_token_hash", ADMIN_TOKEN_FILE, "an admin token");
  const watchTokenHash = await tokenHash(configured.watchToken, "watch_token_hash", WATCH_TOKEN_FILE, "a watch token (read-only MQTT)");
  const metricsTokenHash = await tokenHash(configured.metricsToken, "metrics_token_hash", METRICS_TOKEN_FILE, "a metrics token (GET /metrics)");
  // Also when one of them was generated: the watch token must never open the admin API.
  if (watchTokenHash === adminTokenHash) throw new Error("EDGEFED_WATCH_TOKEN: must differ from the admin token (watching grants no admin rights)");
  return { keys, adminTokenHash, watchTokenHash, metricsTokenHash };
}
