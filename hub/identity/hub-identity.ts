// The hub's own secrets: its Ed25519 key pair (signs decisions and policies;
// nodes pin the public half at registration), the admin token's scrypt
// verifier (slow-hash.ts: a person may choose that token) and the watch
// token's and the metrics token's sha256 (random, made by the hub or the
// operator's tooling). All are created once and kept in the registry.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, type Ed25519KeyPair } from "../../protocol/signing.ts";
import { hashSecret, randomSecret, secretDigest } from "./secrets.ts";
import { slowVerifier, slowVerifierMatches } from "./slow-hash.ts";
import type { HubStore } from "../store/hub-store.ts";

export interface HubIdentity {
  keys: Ed25519KeyPair;
  /** The admin token's scrypt verifier (bearer-verifier.ts checks it once per token and caches the verdict). */
  adminTokenVerifier: string;
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
  const generate = (file: string, what: string): string => {
    const token = randomSecret(32);
    const path = join(dataDir, file);
    writeFileSync(path, `${token}\n`, { mode: 0o600 });
    chmodSync(path, 0o600); // the mode above applies only to a file that did not exist
    log(`generated ${what} into ${path} (owner-only); read it from there`);
    return token;
  };
  const tokenHash = async (given: string, setting: string, file: string, what: string): Promise<string> => {
    if (given) return hashSecret(given);
    const stored = await store.hubValues.get(setting);
    if (stored) return stored;
    const hash = hashSecret(generate(file, what));
    await store.write((tx) => tx.hubValues.put(setting, hash));
    return hash;
  };
  const adminTokenVerifier = await adminVerifier(store, configured.adminToken, () => generate(ADMIN_TOKEN_FILE, "an admin token"), log);
  const watchTokenHash = await tokenHash(configured.watchToken, "watch_token_hash", WATCH_TOKEN_FILE, "a watch token (read-only MQTT)");
  const metricsTokenHash = await tokenHash(configured.metricsToken, "metrics_token_hash", METRICS_TOKEN_FILE, "a metrics token (GET /metrics)");
  // Also when one of them was generated: the watch token must never open the admin API.
  if (await slowVerifierMatches(Buffer.from(watchTokenHash, "hex"), adminTokenVerifier)) throw new Error("EDGEFED_WATCH_TOKEN: must differ from the admin token (watching grants no admin rights)");
  return { keys, adminTokenVerifier, watchTokenHash, metricsTokenHash };
}

const ADMIN_VERIFIER = "admin_token_verifier";
/** Where hubs before the scrypt verifier kept the admin token's sha256. */
const LEGACY_ADMIN_HASH = "admin_token_hash";

/**
 * The admin token's verifier: the configured token's (kept while it stays the
 * same, made anew when it changes), else the stored one, else one made from
 * the sha256 an older hub kept (migrated once, the sha256 then forgotten),
 * else a generated token's.
 */
async function adminVerifier(store: HubStore, given: string, generate: () => string, log: (line: string) => void): Promise<string> {
  const stored = await store.hubValues.get(ADMIN_VERIFIER);
  let digest: Buffer;
  if (given) {
    digest = secretDigest(given);
    if (stored && (await slowVerifierMatches(digest, stored))) return stored;
  } else if (stored) {
    return stored;
  } else {
    const legacy = await store.hubValues.get(LEGACY_ADMIN_HASH);
    if (legacy) log("the admin token's hash is now a salted scrypt (migrated from the sha256 kept before)");
    digest = legacy ? Buffer.from(legacy, "hex") : secretDigest(generate());
  }
  const verifier = await slowVerifier(digest);
  await store.write(async (tx) => {
    await tx.hubValues.put(ADMIN_VERIFIER, verifier);
    await tx.hubValues.delete(LEGACY_ADMIN_HASH);
  });
  return verifier;
}
