import { describe, expect, test } from "bun:test";
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
});
