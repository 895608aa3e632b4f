// The bearer check (bearer-verifier.ts) on a real registry: the hub's admin
// token and operators' tokens are checked with scrypt once, then answered
// from the cache (at once: no promise) until the verdict's time is up or the
// token is pushed out; an operator's cached verdict ends the moment its row
// is revoked or rotated, whoever wrote the registry.
import { afterEach, describe, expect, test } from "bun:test";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { openSqliteStore } from "../store/sqlite/sqlite-store.ts";
import { BearerVerifier, newOperatorToken } from "./bearer-verifier.ts";
import { createOperator, revokeOperator, rotateOperator } from "./operators.ts";
import { secretDigest } from "./secrets.ts";
import { slowVerifier } from "./slow-hash.ts";

afterEach(cleanUp);

const ADMIN = "the-hub-admin-token-0123456789";
const NOW = 1_700_000_000_000;

async function setUp(options = { ttlMs: 60_000, maxEntries: 3 }) {
  const store = closeLater(openSqliteStore(tempDir()));
  let now = NOW;
  const verifier = new BearerVerifier(store, await slowVerifier(secretDigest(ADMIN)), () => now, options);
  return { store, verifier, advance: (ms: number) => (now += ms) };
}

describe("BearerVerifier", () => {
  test("the hub's admin token: checked once, then answered at once until its verdict's time is up", async () => {
    const { verifier, advance } = await setUp();
    const first = verifier.verify(ADMIN);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual({ role: "admin", operator: "admin", operatorId: null });
    expect(verifier.verify(ADMIN)).toEqual({ role: "admin", operator: "admin", operatorId: null }); // no promise: from the cache
    advance(60_000);
    expect(verifier.verify(ADMIN)).toBeInstanceOf(Promise); // checked again
  });

  test("a refused token is remembered as refused; the cache holds at most maxEntries tokens, the oldest going first", async () => {
    const { verifier } = await setUp();
    expect(await verifier.verify("wrong")).toBeUndefined();
    expect(verifier.verify("wrong")).toBeUndefined(); // at once
    await verifier.verify(ADMIN);
    await verifier.verify("wrong-2");
    await verifier.verify("wrong-3"); // a fourth token: "wrong" goes
    expect(verifier.verify("wrong")).toBeInstanceOf(Promise);
    expect(verifier.verify(ADMIN)).not.toBeInstanceOf(Promise);
  });

  test("an operator's token names it with its role; a token of an unknown id, a forged secret or the wrong shape is refused", async () => {
    const { store, verifier } = await setUp();
    const { token, operator } = await createOperator(store, { name: "alice", role: "viewer" }, "admin", NOW);
    expect(await verifier.verify(token)).toEqual({ role: "viewer", operator: "alice", operatorId: operator.id });
    expect(await verifier.verify(newOperatorToken(operator.id).token)).toBeUndefined();
    expect(await verifier.verify(newOperatorToken().token)).toBeUndefined();
    expect(await verifier.verify(`${token}x`)).toBeUndefined();
  });

  test("revoked or rotated in the registry (as another process would), the cached token is refused on its next use", async () => {
    const { store, verifier } = await setUp();
    const alice = await createOperator(store, { name: "alice", role: "admin" }, "admin", NOW);
    const bob = await createOperator(store, { name: "bob", role: "admin" }, "admin", NOW);
    expect((await verifier.verify(alice.token))?.operator).toBe("alice");
    expect((await verifier.verify(bob.token))?.operator).toBe("bob");
    const rotated = await rotateOperator(store, "alice", "admin", NOW + 1);
    await revokeOperator(store, "bob", "admin", NOW + 1);
    expect(await verifier.verify(alice.token)).toBeUndefined();
    expect(await verifier.verify(bob.token)).toBeUndefined();
    expect((await verifier.verify(rotated.token))?.operator).toBe("alice");
  });
});
