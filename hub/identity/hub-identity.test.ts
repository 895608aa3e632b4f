// The hub's secrets on first start and after: generated tokens go to
// owner-only files (never the log), are distinct, and are kept as hashes.
import { afterAll, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { ADMIN_TOKEN_FILE, loadHubIdentity, METRICS_TOKEN_FILE, WATCH_TOKEN_FILE } from "./hub-identity.ts";
import { hashSecret } from "./secrets.ts";
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
  expect(first.adminTokenHash).toBe(hashSecret(admin));
  expect(first.watchTokenHash).toBe(hashSecret(watch));
  expect(logs.join("\n")).not.toContain(admin);
  expect(logs.join("\n")).not.toContain(watch);

  const again = await loadHubIdentity(store, dataDir, { adminToken: "", watchToken: "", metricsToken: "" }, () => {});
  expect(again).toEqual(first);
  const configured = await loadHubIdentity(store, dataDir, { adminToken: "configured-admin-token-0123", watchToken: "configured-watch-token-0123", metricsToken: "" }, () => {});
  expect(configured.adminTokenHash).toBe(hashSecret("configured-admin-token-0123"));
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
