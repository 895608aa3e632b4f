// The hub's own secrets: its Ed25519 key pair (signs decisions and policies;
// nodes pin the public half at registration) and the admin token's hash.
// Both are created once and kept in the registry.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, type Ed25519KeyPair } from "../protocol/signing.ts";
import { hashSecret, randomSecret } from "./secrets.ts";
import type { Registry } from "./store/registry.ts";

export interface HubIdentity {
  keys: Ed25519KeyPair;
  adminTokenHash: string;
}

export const ADMIN_TOKEN_FILE = "admin-token";

/**
 * Loads or creates the hub's identity. A configured admin token wins; without
 * one, a token is generated at first start and written owner-only to
 * `<dataDir>/admin-token` rather than printed, because logs are kept and
 * copied around and a secret in them is a secret leaked.
 */
export function loadHubIdentity(registry: Registry, dataDir: string, configuredAdminToken: string, log: (line: string) => void): HubIdentity {
  let keysJson = registry.setting("hub_keys");
  if (!keysJson) {
    keysJson = JSON.stringify(generateKeyPair());
    registry.saveSetting("hub_keys", keysJson);
  }
  const keys = JSON.parse(keysJson) as Ed25519KeyPair;

  let adminTokenHash: string;
  if (configuredAdminToken) {
    adminTokenHash = hashSecret(configuredAdminToken);
  } else {
    const stored = registry.setting("admin_token_hash");
    if (stored) adminTokenHash = stored;
    else {
      const token = randomSecret(32);
      const path = join(dataDir, ADMIN_TOKEN_FILE);
      writeFileSync(path, `${token}\n`, { mode: 0o600 });
      adminTokenHash = hashSecret(token);
      registry.saveSetting("admin_token_hash", adminTokenHash);
      log(`generated an admin token into ${path} (owner-only); read it from there`);
    }
  }
  return { keys, adminTokenHash };
}
