// The hub's secrets on first start and after: generated tokens go to
// owner-only files (never the log), are distinct, and are kept as hashes:
// the admin token's a salted scrypt, migrated from the sha256 older hubs kept.
import { afterAll, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { ADMIN_TOKEN_FILE, loadHubIdentity, METRICS_TOKEN_FILE, WATCH_TOKEN_FILE } from "./hub-identity.ts";
import { hashSecret, secretDigest } from "./secrets.ts";
import { slowVerifierMatches } from "./slow-hash.ts";
import { openSqliteStore } from "../store/sqlite/sqlite-store.ts";

afterAll(cleanUp);

test("first start generates an admin, a watch and a metrics token into owner-only files; later starts keep them", async () => {
  const dataDir = tempDir();
  const store = closeLater(openSqliteStore(dataDir));
  const logs: string[] = [];
  const first = await loadHubIdentity(store, dataDir, { adminToken: "", watchToken: "", metricsToken: "" }, (line) => logs.push(line));
  const admin = readFileSync(join(dataDir, ADMIN_TOKEN_FILE), "utf8").trim();
  const watch = readFileSync(join(dataDir, WATCH_TOKEN_FILE), "utf8").trim();
  const metrics = readFileSync(join(dataDir, METRICS_TOKEN_FILE), "utf8").trim();
  for (const file of [ADMIN_TOKEN_FILE, WATCH_TOKEN_FILE, METRICS_TOKEN_FILE]) expect(statSync(join(dataDir, file)).mode & 0o777).toBe(0o600);
  expect(new Set([admin, watch, metrics]).size).toBe(3);
  expect(first.metricsTokenHash).toBe(hashSecret(metrics));
  expect(logs.join("\n")).not.toContain(metrics);
  expect(first.adminTokenVerifier).toStartWith("scrypt$ln=13,r=8,p=1$");
  expect(await slowVerifierMatches(secretDigest(admin), first.adminTokenVerifier)).toBe(true);
  expect(await slowVerifierMatches(secretDigest(watch), first.adminTokenVerifier)).toBe(false);
  expect(first.watchTokenHash).toBe(hashSecret(watch));
  expect(logs.join("\n")).not.toContain(admin);
  expect(logs.join("\n")).not.toContain(watch);

  const again = await loadHubIdentity(store, dataDir, { adminToken: "", watchToken: "", metricsToken: "" }, () => {});
  expect(again).toEqual(first);
  const configured = await loadHubIdentity(store, dataDir, { adminToken: "configured-admin-token-0123", watchToken: "configured-watch-token-0123", metricsToken: "" }, () => {});
  expect(await slowVerifierMatches(secretDigest("configured-admin-token-0123"), configured.adminTokenVerifier)).toBe(true);
  expect(await slowVerifierMatches(secretDigest(admin), configured.adminTokenVerifier)).toBe(false);
  // The same configured token again keeps its verifier (no new salt each start).
  const configuredAgain = await loadHubIdentity(store, dataDir, { adminToken: "configured-admin-token-0123", watchToken: "configured-watch-token-0123", metricsToken: "" }, () => {});
  expect(configuredAgain.adminTokenVerifier).toBe(configured.adminTokenVerifier);
  expect(configured.watchTokenHash).toBe(hashSecret("configured-watch-token-0123"));
  expect(configured.keys).toEqual(first.keys);
});

test("a watch token equal to the admin token, even a generated one, is refused", async () => {
  const dataDir = tempDir();
  const store = closeLater(openSqliteStore(dataDir));
  await loadHubIdentity(store, dataDir, { adminToken: "", watchToken: "", metricsToken: "" }, () => {});
  const admin = readFileSync(join(dataDir, ADMIN_TOKEN_FILE), "utf8").trim();
  await expect(loadHubIdentity(store, dataDir, { adminToken: "", watchToken: admin, metricsToken: "" }, () => {})).rejects.toThrow("must differ from the admin token");
});

test("the sha256 an older hub kept of its admin token becomes a scrypt verifier at first start, and the sha256 is forgotten", async () => {
  const dataDir = tempDir();
  const store = closeLater(openSqliteStore(dataDir));
  const oldToken = "token-an-older-hub-generated-0123";
  await store.write((tx) => tx.hubValues.put("admin_token_hash", hashSecret(oldToken)));
  const logs: string[] = [];
  const identity = await loadHubIdentity(store, dataDir, { adminToken: "", watchToken: "", metricsToken: "" }, (line) => logs.push(line));
  expect(await slowVerifierMatches(secretDigest(oldToken), identity.adminTokenVerifier)).toBe(true);
  expect(await store.hubValues.get("admin_token_hash")).toBeUndefined();
  expect(await store.hubValues.get("admin_token_verifier")).toBe(identity.adminTokenVerifier);
  expect(logs.join("\n")).toContain("migrated");
  expect(logs.join("\n")).not.toContain("generated an admin token"); // the old token still works; none was made
});
