// The agent's registration against a real hub over real HTTPS, pinning its CA as a flashed card does.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import { startTestHub, type TestHub } from "../test/support/hub-harness.ts";
import { AgentStore } from "./agent-store.ts";
import { registerOnce } from "./registration.ts";

const advertisement = { capabilities: ["kernel"], arch: "arm64" as const, version: "0.1.0" };
let t: TestHub;
const ca = () => t.hub.tls!.ca;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  await t.stop();
  removeTempDirs();
});

describe("registerOnce", () => {
  test("registers, and registers again later with the same key and no spare token use", async () => {
    const store = AgentStore.open(tempDir());
    const identity = store.identity("agent-reg-1", Date.now());
    const token = t.enrollmentToken({ uses: 1 });
    const first = await registerOnce(t.hub.httpUrl, token, identity, advertisement, Date.now(), ca());
    if (first.kind !== "registered") throw new Error(JSON.stringify(first));
    expect(first.registration).toMatchObject({ url: t.hub.httpUrl, heartbeatS: 1, mqtt: { username: "agent-reg-1" } });
    expect(first.registration.hubPublicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    store.saveRegistration(first.registration);
    expect(store.registration(t.hub.httpUrl)).toEqual(first.registration);

    const again = await registerOnce(t.hub.httpUrl, token, identity, advertisement, Date.now() + 1, ca());
    if (again.kind !== "registered") throw new Error(JSON.stringify(again));
    expect(again.registration.mqtt.password).not.toBe(first.registration.mqtt.password);
    expect(again.registration.registrationId).toBe(first.registration.registrationId);
    store.close();
  });

  test("a bad token is refused with the hub's reason, and the token is not echoed", async () => {
    const store = AgentStore.open(tempDir());
    const result = await registerOnce(t.hub.httpUrl, "efe_wrong-token-secret", store.identity("agent-reg-2", Date.now()), advertisement, Date.now(), ca());
    expect(result).toEqual({ kind: "refused", status: 401, reason: expect.stringContaining("enrollment token") });
    expect(JSON.stringify(result)).not.toContain("wrong-token-secret");
    store.close();
  });

  test("another node's id is refused with 409", async () => {
    const token = t.enrollmentToken();
    const a = AgentStore.open(tempDir());
    const b = AgentStore.open(tempDir());
    expect((await registerOnce(t.hub.httpUrl, token, a.identity("agent-twin", Date.now()), advertisement, Date.now(), ca())).kind).toBe("registered");
    const twin = await registerOnce(t.hub.httpUrl, token, b.identity("agent-twin", Date.now()), advertisement, Date.now(), ca());
    expect(twin).toMatchObject({ kind: "refused", status: 409 });
    a.close();
    b.close();
  });

  test("a node removed on the hub is told so (removed, not refused), with the way back and without the token", async () => {
    const store = AgentStore.open(tempDir());
    const identity = store.identity("agent-reg-removed", Date.now());
    const token = t.enrollmentToken();
    expect((await registerOnce(t.hub.httpUrl, token, identity, advertisement, Date.now(), ca())).kind).toBe("registered");
    expect((await t.api("DELETE", "/federation/nodes/agent-reg-removed")).status).toBe(200);
    const result = await registerOnce(t.hub.httpUrl, token, identity, advertisement, Date.now() + 1, ca());
    expect(result).toEqual({ kind: "removed", reason: expect.stringContaining("/federation/nodes/agent-reg-removed/readmit") });
    expect(JSON.stringify(result)).not.toContain(token.slice(4));
    expect((await t.api("POST", "/federation/nodes/agent-reg-removed/readmit")).status).toBe(200);
    expect((await registerOnce(t.hub.httpUrl, token, identity, advertisement, Date.now() + 2, ca())).kind).toBe("registered");
    store.close();
  });

  test("a hub that is not there is unreachable, not refused", async () => {
    const store = AgentStore.open(tempDir());
    const result = await registerOnce("http://127.0.0.1:9", "efe_x", store.identity("agent-reg-3", Date.now()), advertisement, Date.now());
    expect(result.kind).toBe("unreachable");
    store.close();
  });
});

