// The hub's own secrets: its Ed25519 key pair (signs decisions and policies;
// nodes pin the public half at registration), the admin token's hash and the
// watch token's. All are created once and kept in the registry.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, type Ed25519KeyPair } from "../../protocol/signing.ts";
import { hashSecret, randomSecret } from "./secrets.ts";
import type { Registry } from "../store/registry.ts";

export interface HubIdentity {
  keys: Ed25519KeyPair;
  adminTokenHash: string;
  /** The read-only watcher's password on the embedded broker: not the admin token, so watching grants no admin rights. */
  watchTokenHash: string;
}

export const ADMIN_TOKEN_FILE = "admin-token";
export const WATCH_TOKEN_FILE = "watch-token";

/**
 * Loads or creates the hub's identity. A configured token wins; without one,
 * a token is generated at first start and written owner-only to
 * `<dataDir>/admin-token` (and `watch-token`) rather than printed, because
 * logs are kept and copied around and a secret in them is a secret leaked.
 */
export function loadHubIdentity(
  registry: Registry,
  dataDir: string,
  configured: { adminToken: string; watchToken: string },
  log: (line: string) => void,
): HubIdentity {
  let keysJson = registry.setting("hub_keys");
  if (!keysJson) {
    keysJson = JSON.stringify(generateKeyPair());
    registry.saveSetting("hub_keys", keysJson);
  }
  const keys = JSON.parse(keysJson) as Ed25519KeyPair;
  const tokenHash = (given: string, setting: string, file: string, what: string): string => {
    if (given) return hashSecret(given);
    const stored = registry.setting(setting);
    if (stored) return stored;
    const token = randomSecret(32);
    const path = join(dataDir, file);
    writeFileSync(path, `${token}\n`, { mode: 0o600 });
    chmodSync(path, 0o600); // the mode above applies only to a file that did not exist
    const hash = hashSecret(token);
    registry.saveSetting(setting, hash);
    log(`generated ${what} into ${path} (owner-only); read it from there`);
    return hash;
  };
  const adminTokenHash = tokenHash(configured.adminToken, "admin_token_hash", ADMIN_TOKEN_FILE, "an admin token");
  const watchTokenHash = tokenHash(configured.watchToken, "watch_token_hash", WATCH_TOKEN_FILE, "a watch token (read-only MQTT)");
  // Also when one of them was generated: the watch token must never open the admin API.
  if (watchTokenHash === adminTokenHash) throw new Error("EDGEFED_WATCH_TOKEN: must differ from the admin token (watching grants no admin rights)");
  return { keys, adminTokenHash, watchTokenHash };
}
