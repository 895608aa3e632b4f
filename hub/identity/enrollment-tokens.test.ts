// Tests for enrollment tokens (enrollment-tokens.ts): long, random, with the
// efe_ prefix; the registry (a real SQLite file) keeps only their sha256;
// and parseTtl.
import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { openSqliteStore, REGISTRY_FILE } from "../store/sqlite/sqlite-store.ts";
import { createEnrollmentToken, ENROLLMENT_TOKEN_PREFIX, parseTtl } from "./enrollment-tokens.ts";

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;

afterEach(cleanUp);

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("createEnrollmentToken", () => {
  test("returns a long random token with the efe_ prefix", async () => {
    const store = closeLater(openSqliteStore(tempDir()));
    const a = await createEnrollmentToken(store, { uses: 1, ttlMs: HOUR }, NOW);
    const b = await createEnrollmentToken(store, { uses: 1, ttlMs: HOUR }, NOW);
    expect(ENROLLMENT_TOKEN_PREFIX).toBe("efe_");
    expect(a).toMatch(/^efe_[A-Za-z0-9_-]{32}$/);
    expect(b).not.toBe(a);
  });

  test("the registry knows it by its sha256 only, with its uses, expiry and label", async () => {
    const store = closeLater(openSqliteStore(tempDir()));
    const token = await createEnrollmentToken(store, { uses: 3, ttlMs: HOUR, label: "rack 2" }, NOW);
    expect(await store.tokens.valid(sha256(token), NOW)).toEqual({ label: "rack 2", usesLeft: 3, expiresAt: NOW + HOUR, registrations: 0 });
    expect(await store.tokens.valid(token, NOW)).toBeUndefined();
    expect(await store.tokens.valid(sha256(sha256(token)), NOW)).toBeUndefined();
  });

  test("the plain token appears nowhere in the database files", async () => {
    const dir = tempDir();
    const store = closeLater(openSqliteStore(dir));
    const token = await createEnrollmentToken(store, { uses: 1, ttlMs: null, label: "on disk" }, NOW);
    const files = [REGISTRY_FILE, `${REGISTRY_FILE}-wal`].map((f) => join(dir, f)).filter((f) => existsSync(f));
    const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
    // The row did reach the files (the hash is there) ...
    expect(bytes.includes(Buffer.from(sha256(token)))).toBe(true);
    // ... but neither the token nor its random part is.
    expect(bytes.includes(Buffer.from(token))).toBe(false);
    expect(bytes.includes(Buffer.from(token.slice(ENROLLMENT_TOKEN_PREFIX.length)))).toBe(false);
    await store.close();
    const after = readFileSync(join(dir, REGISTRY_FILE));
    expect(after.includes(Buffer.from(token.slice(ENROLLMENT_TOKEN_PREFIX.length)))).toBe(false);
  });
});

describe("parseTtl", () => {
  test("reads seconds, minutes, hours, days and plain seconds", () => {
    expect(parseTtl("90s")).toBe(90_000);
    expect(parseTtl("30m")).toBe(1_800_000);
    expect(parseTtl("12h")).toBe(43_200_000);
    expect(parseTtl("7d")).toBe(604_800_000);
    expect(parseTtl("45")).toBe(45_000);
    expect(parseTtl("1.5h")).toBe(5_400_000);
    expect(parseTtl(" 2d ")).toBe(172_800_000);
  });

  test("refuses empty, unknown units, negative and zero durations", () => {
    expect(() => parseTtl("")).toThrow('--ttl: "" is not a duration like 90s, 30m, 12h or 7d');
    expect(() => parseTtl("1w")).toThrow('--ttl: "1w" is not a duration like 90s, 30m, 12h or 7d');
    expect(() => parseTtl("-5m")).toThrow('--ttl: "-5m" is not a duration like 90s, 30m, 12h or 7d');
    expect(() => parseTtl("0")).toThrow("--ttl: must be longer than 0");
    expect(() => parseTtl("0m")).toThrow("--ttl: must be longer than 0");
    expect(() => parseTtl("h")).toThrow(/not a duration/);
    expect(() => parseTtl("5 m")).toThrow(/not a duration/);
    expect(() => parseTtl("5M")).toThrow(/not a duration/);
  });
});
