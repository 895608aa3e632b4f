// The agent's local registry: identity made once and kept, owner-only files,
// policy and decisions surviving a reopen (a reboot).
import { afterAll, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_POLICY } from "../kernel/policy.ts";
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import { AGENT_STORE_FILE, AgentStore, IdentityMismatchError } from "./agent-store.ts";

afterAll(() => removeTempDirs());

test("the identity is created once and kept across reopening; the files are owner-only", () => {
  const dir = join(tempDir(), "state");
  const first = AgentStore.open(dir);
  const identity = first.identity("pi-01", 1000);
  expect(identity.keys.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
  first.close();
  const second = AgentStore.open(dir);
  expect(second.identity("pi-01", 2000)).toEqual(identity);
  expect(() => second.identity("pi-02", 2000)).toThrow(IdentityMismatchError);
  second.close();
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  expect(statSync(join(dir, AGENT_STORE_FILE)).mode & 0o777).toBe(0o600);
});

test("the session counter increases on every connect and survives a reopen", () => {
  const dir = tempDir();
  const store = AgentStore.open(dir);
  store.identity("pi-01", 1);
  expect([store.nextSession(), store.nextSession()]).toEqual([1, 2]);
  store.close();
  const again = AgentStore.open(dir);
  expect(again.nextSession()).toBe(3);
  again.close();
});

test("policy and applied decisions survive a reopen; a decision is recorded once", () => {
  const dir = tempDir();
  const store = AgentStore.open(dir);
  expect(store.policy()).toEqual({ policy: { ...DEFAULT_POLICY }, version: 0, source: "default" });
  store.savePolicy({ policy: { ...DEFAULT_POLICY, mode: "PAUSED" }, version: 7, source: "node" }, 100);
  store.recordDecision({ id: "dec_1", type: "MODE_CHANGE", ok: true, error: null, appliedAt: 100 }, "{}");
  expect(() => store.recordDecision({ id: "dec_1", type: "MODE_CHANGE", ok: true, error: null, appliedAt: 200 }, "{}")).toThrow();
  store.close();
  const again = AgentStore.open(dir);
  expect(again.policy()).toEqual({ policy: { ...DEFAULT_POLICY, mode: "PAUSED" }, version: 7, source: "node" });
  expect(again.appliedDecision("dec_1")).toEqual({ id: "dec_1", type: "MODE_CHANGE", ok: true, error: null, appliedAt: 100 });
  expect(again.appliedDecision("dec_2")).toBeUndefined();
  again.close();
});
