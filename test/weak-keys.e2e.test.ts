// Defect 3 of issue 10: the hub registered a node whose public key was the
// Ed25519 identity point, for which a trivial signature verifies any message:
// anyone with an enrollment token could then sign its re-registration proof
// and take over its broker credentials. Small-order and non-canonical keys
// (and points off the curve) are now refused at registration with a 400
// naming public_key.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { IDENTITY_KEY, NON_CANONICAL_KEY, OFF_CURVE_KEY, SMALL_ORDER_KEYS, TRIVIAL_SIGNATURE } from "./fixtures/weak-keys.ts";
import { removeTempDirs } from "./helpers.ts";
import { newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  await t.stop();
  removeTempDirs();
});

const weakKeys = [...SMALL_ORDER_KEYS, ["y >= p", NON_CANONICAL_KEY], ["off the curve", OFF_CURVE_KEY]] as const;

test.each(weakKeys.map(([label, key], i) => [label, key, i] as const))("registering with the public key \"%s\" gets 400 naming public_key", async (_label, key, i) => {
  const body = registerBody(newNode(`weak-key-${i}`), { public_key: key }, false);
  const response = await t.api("POST", "/federation/register", body, t.enrollmentToken());
  expect(response.body).toMatchObject({ error: "invalid_body", detail: expect.stringMatching(/^public_key: not a usable Ed25519 public key/) });
  expect(response.status).toBe(400);
});

test("the proof anyone can forge for the identity key registers nothing", async () => {
  const node = newNode("forged-proof");
  const token = t.enrollmentToken();
  // What an attacker sends: the identity key, and R = identity, S = 0 as the signature of a fresh proof.
  const forged = { ...registerBody(node, { public_key: IDENTITY_KEY }, false), sig: TRIVIAL_SIGNATURE };
  for (const body of [registerBody(node, { public_key: IDENTITY_KEY }, false), forged, forged]) {
    const response = await t.api("POST", "/federation/register", body, token);
    expect(response.body).toMatchObject({ error: "invalid_body", detail: expect.stringContaining("public_key") });
    expect(response.status).toBe(400);
  }
  expect((await t.api("GET", `/federation/nodes/${node.nodeId}`)).status).toBe(404);
});
