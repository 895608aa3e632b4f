// Tests for enrollment tokens (token-store.ts) in a real registry file:
// stored only as a hash, limited in uses and lifetime, re-registrations
// counted without spending a use; and parseTtl.
import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { openRegistry, REGISTRY_FILE, type Registry } from "./registry.ts";
import { ENROLLMENT_TOKEN_PREFIX, parseTtl } from "./token-store.ts";

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;

function registry(dir = tempDir()): Registry {
  return closeLater(openRegistry(dir));
}

afterEach(cleanUp);

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("TokenStore.create", () => {
  test("returns a long random token with the efe_ prefix", () => {
    const { tokens } = registry();
    const a = tokens.create({ uses: 1, ttlMs: HOUR }, NOW);
    const b = tokens.create({ uses: 1, ttlMs: HOUR }, NOW);
    expect(ENROLLMENT_TOKEN_PREFIX).toBe("efe_");
    expect(a).toMatch(/^efe_[A-Za-z0-9_-]{32}$/);
    expect(b).not.toBe(a);
  });

  test("stores only the token's sha256, with its uses, expiry and label", () => {
    const r = registry();
    const token = r.tokens.create({ uses: 3, ttlMs: HOUR, label: "rack 2" }, NOW);
    const rows = r.db.prepare("SELECT * FROM enrollment_tokens").all();
    expect(rows).toEqual([
      { token_hash: sha256(token), label: "rack 2", uses_left: 3, expires_at: NOW + HOUR, created_at: NOW, registrations: 0 },
    ]);
  });

  test("the plain token appears nowhere in the database files", () => {
    const dir = tempDir();
    const r = registry(dir);
    const token = r.tokens.create({ uses: 1, ttlMs: null, label: "on disk" }, NOW);
    const files = [REGISTRY_FILE, `${REGISTRY_FILE}-wal`].map((f) => join(dir, f)).filter((f) => existsSync(f));
    const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
    // The row did reach the files (the hash is there) ...
    expect(bytes.includes(Buffer.from(sha256(token)))).toBe(true);
    // ... but neither the token nor its random part is.
    expect(bytes.includes(Buffer.from(token))).toBe(false);
    expect(bytes.includes(Buffer.from(token.slice(ENROLLMENT_TOKEN_PREFIX.length)))).toBe(false);
    r.close();
    const after = readFileSync(join(dir, REGISTRY_FILE));
    expect(after.includes(Buffer.from(token.slice(ENROLLMENT_TOKEN_PREFIX.length)))).toBe(false);
  });

  test("a token outlives the process: valid after reopening the registry", () => {
    const dir = tempDir();
    const first = registry(dir);
    const token = first.tokens.create({ uses: 2, ttlMs: HOUR, label: "persisted" }, NOW);
    first.close();
    expect(registry(dir).tokens.valid(token, NOW)).toEqual({ label: "persisted", usesLeft: 2, expiresAt: NOW + HOUR, registrations: 0 });
  });
});

describe("TokenStore.valid", () => {
  test("describes a valid token", () => {
    const { tokens } = registry();
    const token = tokens.create({ uses: 2, ttlMs: HOUR }, NOW);
    expect(tokens.valid(token, NOW)).toEqual({ label: "", usesLeft: 2, expiresAt: NOW + HOUR, registrations: 0 });
  });

  test("is undefined for unknown tokens", () => {
    const { tokens } = registry();
    const token = tokens.create({ uses: 2, ttlMs: HOUR }, NOW);
    expect(tokens.valid("efe_unknown", NOW)).toBeUndefined();
    expect(tokens.valid("", NOW)).toBeUndefined();
    expect(tokens.valid(token + "x", NOW)).toBeUndefined();
    expect(tokens.valid(sha256(token), NOW)).toBeUndefined(); // the stored hash is not a token
  });

  test("is undefined from the expiry instant on", () => {
    const { tokens } = registry();
    const token = tokens.create({ uses: 5, ttlMs: HOUR }, NOW);
    expect(tokens.valid(token, NOW + HOUR - 1)?.usesLeft).toBe(5);
    expect(tokens.valid(token, NOW + HOUR)).toBeUndefined();
    expect(tokens.valid(token, NOW + 2 * HOUR)).toBeUndefined();
  });

  test("a token without ttl never expires", () => {
    const { tokens } = registry();
    const token = tokens.create({ uses: 1, ttlMs: null }, NOW);
    expect(tokens.valid(token, NOW + 100 * 365 * 24 * HOUR)).toEqual({ label: "", usesLeft: 1, expiresAt: null, registrations: 0 });
  });

  test("is undefined once used up", () => {
    const { tokens } = registry();
    const token = tokens.create({ uses: 1, ttlMs: HOUR }, NOW);
    expect(tokens.spendUse(token, NOW)).toBe(true);
    expect(tokens.valid(token, NOW)).toBeUndefined();
  });
});

describe("TokenStore.spendUse", () => {
  test("decrements the uses and stops at 0", () => {
    const r = registry();
    const token = r.tokens.create({ uses: 2, ttlMs: HOUR }, NOW);
    expect(r.tokens.spendUse(token, NOW)).toBe(true);
    expect(r.tokens.valid(token, NOW)).toEqual({ label: "", usesLeft: 1, expiresAt: NOW + HOUR, registrations: 1 });
    expect(r.tokens.spendUse(token, NOW)).toBe(true);
    expect(r.tokens.spendUse(token, NOW)).toBe(false);
    expect(r.tokens.spendUse(token, NOW)).toBe(false);
    expect(r.db.prepare("SELECT uses_left, registrations FROM enrollment_tokens").get()).toEqual({ uses_left: 0, registrations: 2 });
  });

  test("spends nothing of an expired or unknown token", () => {
    const r = registry();
    const token = r.tokens.create({ uses: 2, ttlMs: HOUR }, NOW);
    expect(r.tokens.spendUse(token, NOW + HOUR)).toBe(false);
    expect(r.tokens.spendUse("efe_nope", NOW)).toBe(false);
    expect(r.db.prepare("SELECT uses_left, registrations FROM enrollment_tokens").get()).toEqual({ uses_left: 2, registrations: 0 });
  });

  test("spends only the token it is given", () => {
    const r = registry();
    const a = r.tokens.create({ uses: 1, ttlMs: HOUR, label: "a" }, NOW);
    const b = r.tokens.create({ uses: 1, ttlMs: HOUR, label: "b" }, NOW);
    expect(r.tokens.spendUse(a, NOW)).toBe(true);
    expect(r.tokens.valid(a, NOW)).toBeUndefined();
    expect(r.tokens.valid(b, NOW)?.usesLeft).toBe(1);
  });

  test("an unlimited token never runs out, and counts its registrations", () => {
    const r = registry();
    const token = r.tokens.create({ uses: null, ttlMs: null }, NOW);
    for (let i = 0; i < 50; i++) expect(r.tokens.spendUse(token, NOW + i)).toBe(true);
    expect(r.tokens.valid(token, NOW)).toEqual({ label: "", usesLeft: null, expiresAt: null, registrations: 50 });
  });

  test("an unlimited token still expires", () => {
    const r = registry();
    const token = r.tokens.create({ uses: null, ttlMs: 1000 }, NOW);
    expect(r.tokens.spendUse(token, NOW + 999)).toBe(true);
    expect(r.tokens.spendUse(token, NOW + 1000)).toBe(false);
  });
});

describe("TokenStore.countReuse", () => {
  test("counts a registration without spending a use", () => {
    const r = registry();
    const token = r.tokens.create({ uses: 1, ttlMs: HOUR }, NOW);
    r.tokens.countReuse(token);
    r.tokens.countReuse(token);
    expect(r.tokens.valid(token, NOW)).toEqual({ label: "", usesLeft: 1, expiresAt: NOW + HOUR, registrations: 2 });
  });

  test("counts on a used-up token too, leaving it used up", () => {
    const r = registry();
    const token = r.tokens.create({ uses: 1, ttlMs: HOUR }, NOW);
    r.tokens.spendUse(token, NOW);
    r.tokens.countReuse(token);
    expect(r.db.prepare("SELECT uses_left, registrations FROM enrollment_tokens").get()).toEqual({ uses_left: 0, registrations: 2 });
    expect(r.tokens.valid(token, NOW)).toBeUndefined();
  });

  test("does nothing for an unknown token", () => {
    const r = registry();
    r.tokens.create({ uses: 1, ttlMs: HOUR }, NOW);
    r.tokens.countReuse("efe_unknown");
    expect(r.db.prepare("SELECT registrations FROM enrollment_tokens").get()).toEqual({ registrations: 0 });
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
