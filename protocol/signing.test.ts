import { describe, expect, test } from "bun:test";
import { Point } from "@noble/ed25519";
import { createPublicKey, randomBytes, verify } from "node:crypto";
import { IDENTITY_KEY, mixedOrderKey, NON_CANONICAL_KEY, OFF_CURVE_KEY, SMALL_ORDER_KEYS, TRIVIAL_SIGNATURE } from "../test/fixtures/weak-keys.ts";
import { canonicalJson, generateKeyPair, isPublicKey, signMessage, verifyMessage } from "./signing.ts";

const decision = { id: "d-12345678", type: "MODE_CHANGE", target: "pi-01", payload: { mode: "PAUSED", nested: { b: 1, a: [2, { y: 1, x: 0 }] } }, issuedAt: 1, expiresAt: 2 };

describe("signing", () => {
  test("a signed message verifies with the signer's public key only", () => {
    const hub = generateKeyPair();
    const other = generateKeyPair();
    const signed = signMessage(decision, hub.privateKey);
    expect(signed.sig).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(verifyMessage(signed, hub.publicKey)).toBe(true);
    expect(verifyMessage(signed, other.publicKey)).toBe(false);
  });

  test("any change to any field, however deep, breaks the signature", () => {
    const { publicKey, privateKey } = generateKeyPair();
    const signed = signMessage(decision, privateKey);
    expect(verifyMessage({ ...signed, expiresAt: 3 }, publicKey)).toBe(false);
    expect(verifyMessage({ ...signed, target: "fleet" }, publicKey)).toBe(false);
    expect(verifyMessage({ ...signed, payload: { ...signed.payload, mode: "LIVE" } }, publicKey)).toBe(false);
    expect(verifyMessage({ ...signed, extra: true }, publicKey)).toBe(false);
    expect(verifyMessage({ ...signed, sig: undefined }, publicKey)).toBe(false);
    expect(verifyMessage({ ...signed, sig: "not-a-signature" }, publicKey)).toBe(false);
    expect(verifyMessage(signed, "not-a-key")).toBe(false);
  });

  test("field order does not matter: the signature covers canonical JSON", () => {
    const { publicKey, privateKey } = generateKeyPair();
    const signed = signMessage(decision, privateKey);
    const reordered = JSON.parse(JSON.stringify({ sig: signed.sig, payload: { nested: { a: [2, { x: 0, y: 1 }], b: 1 }, mode: "PAUSED" }, expiresAt: 2, issuedAt: 1, target: "pi-01", type: "MODE_CHANGE", id: "d-12345678" }));
    expect(verifyMessage(reordered, publicKey)).toBe(true);
    expect(canonicalJson({ b: 1, a: [3, { d: null, c: "x" }], u: undefined })).toBe('{"a":[3,{"c":"x","d":null}],"b":1}');
  });

  test("re-signing replaces an old sig rather than signing it", () => {
    const { publicKey, privateKey } = generateKeyPair();
    const twice = signMessage(signMessage(decision, privateKey), privateKey);
    expect(verifyMessage(twice, publicKey)).toBe(true);
  });

  test("public keys are 32 raw bytes in base64url", () => {
    const { publicKey } = generateKeyPair();
    expect(publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(isPublicKey(publicKey)).toBe(true);
    for (const bad of ["", "abc", publicKey + "A", publicKey.slice(1), 42, null]) expect(isPublicKey(bad)).toBe(false);
  });

  test("the weak keys of the fixture are what they say: small-order (8 distinct points), y >= p, off the curve, mixed-order", () => {
    const lenient = (key: string) => Point.fromBytes(Buffer.from(key, "base64url"), true); // ZIP-215: accepts non-canonical encodings
    for (const [, key] of SMALL_ORDER_KEYS) expect(lenient(key).isSmallOrder()).toBe(true);
    expect(new Set(SMALL_ORDER_KEYS.map(([, key]) => lenient(key).toHex())).size).toBe(8);
    const y = BigInt("0x" + Buffer.from(NON_CANONICAL_KEY, "base64url").reverse().toString("hex")) & ((1n << 255n) - 1n);
    expect(y).toBe(2n ** 255n - 19n + 3n); // y >= p: non-canonical
    expect(() => lenient(NON_CANONICAL_KEY)).not.toThrow(); // yet a point on the curve
    expect(() => lenient(OFF_CURVE_KEY)).toThrow();
    const mixed = lenient(mixedOrderKey(generateKeyPair().publicKey));
    expect(mixed.isSmallOrder() || mixed.isTorsionFree()).toBe(false);
  });

  test("the identity key's trivial signature verifies any message in node:crypto, and nothing here", () => {
    const message = { id: randomBytes(8).toString("hex"), target: "anything" };
    // Why the check exists: node:crypto (Bun's and Node's) takes R = identity, S = 0 as a signature by the identity key.
    const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(IDENTITY_KEY, "base64url")]);
    expect(verify(null, Buffer.from(canonicalJson(message)), createPublicKey({ key: spki, format: "der", type: "spki" }), Buffer.from(TRIVIAL_SIGNATURE, "base64url"))).toBe(true);
    // The forged registration proof: before the fix verifyMessage accepted it.
    expect(verifyMessage({ ...message, sig: TRIVIAL_SIGNATURE }, IDENTITY_KEY)).toBe(false);
  });

  test("small-order, non-canonical and off-curve keys are no public keys, and nothing verifies with them", () => {
    for (const [label, key] of [...SMALL_ORDER_KEYS, ["y >= p", NON_CANONICAL_KEY], ["off the curve", OFF_CURVE_KEY]] as const) {
      expect({ label, publicKey: isPublicKey(key) }).toEqual({ label, publicKey: false });
      expect({ label, verifies: verifyMessage({ n: 1, sig: TRIVIAL_SIGNATURE }, key) }).toEqual({ label, verifies: false });
    }
  });

  test("a mixed-order key is let through: only the holder of its prime-order part's secret signs for it", () => {
    const holder = generateKeyPair();
    expect(isPublicKey(mixedOrderKey(holder.publicKey))).toBe(true);
    expect(verifyMessage({ n: 1, sig: TRIVIAL_SIGNATURE }, mixedOrderKey(holder.publicKey))).toBe(false);
  });

  test("every generated key passes the check", () => {
    for (let i = 0; i < 200; i++) expect(isPublicKey(generateKeyPair().publicKey)).toBe(true);
  });
});
