// Enrollment tokens from the dashboard's API against a real hub over real
// HTTP: created (shown once), listed by a non-secret id with their uses and
// registrations, revoked (a revoked token registers nothing, not even a node
// coming back); admin only.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cleanUp } from "./helpers.ts";
import { dashboardLogin } from "./support/dashboard-client.ts";
import { newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => {
  await hub?.stop();
  await cleanUp();
});

const listed = async () => (await hub.api("GET", "/api/federation/tokens")).body.tokens as any[];

describe("enrollment tokens over the API", () => {
  test("a created token registers a node; the list shows it by id, never the token, with its uses and registrations", async () => {
    const before = Date.now();
    const created = await hub.api("POST", "/api/federation/tokens", { label: "rack 3", uses: 2, expires_in_s: 600 });
    expect(created.status).toBe(201);
    const { token, id } = created.body;
    expect(token).toMatch(/^efe_[A-Za-z0-9_-]{32}$/);
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(created.body).toMatchObject({ label: "rack 3", uses_left: 2, created_by: "admin" });
    expect(created.body.expires_at).toBeGreaterThanOrEqual(before + 600_000);
    expect((await hub.api("POST", "/federation/register", registerBody(newNode("pi-tok-1")), token)).status).toBe(201);
    const row = (await listed()).find((t) => t.id === id);
    expect(row).toEqual({ id, label: "rack 3", uses_left: 1, expires_at: created.body.expires_at, created_at: expect.any(Number), created_by: "admin", registrations: 1, revoked: false, revoked_at: null });
    expect(JSON.stringify(await listed())).not.toContain(token.slice(4));
  });

  test("defaults: one use, a day; null uses and expiry mean unlimited and never", async () => {
    const one = (await hub.api("POST", "/api/federation/tokens", {})).body;
    expect(one.uses_left).toBe(1);
    expect(one.expires_at).toBeGreaterThan(Date.now() + 86_000_000);
    const forever = (await hub.api("POST", "/api/federation/tokens", { label: "lab", uses: null, expires_in_s: null })).body;
    expect(forever).toMatchObject({ uses_left: null, expires_at: null });
  });

  test("a revoked token registers nothing, not even a node it registered before; revoking again or an unknown id is 404", async () => {
    const { token, id } = (await hub.api("POST", "/api/federation/tokens", { label: "to revoke", uses: 5 })).body;
    const node = newNode("pi-tok-2");
    expect((await hub.api("POST", "/federation/register", registerBody(node), token)).status).toBe(201);
    const revoked = await hub.api("DELETE", `/api/federation/tokens/${id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ status: "revoked", id });
    const refused = await hub.api("POST", "/federation/register", registerBody(newNode("pi-tok-3")), token);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe("invalid_token");
    expect((await hub.api("POST", "/federation/register", registerBody(node), token)).status).toBe(401);
    expect((await listed()).find((t) => t.id === id)).toMatchObject({ revoked: true, uses_left: 4, registrations: 1 });
    expect((await hub.api("DELETE", `/api/federation/tokens/${id}`)).status).toBe(404);
    expect((await hub.api("DELETE", "/api/federation/tokens/000000000000")).body.error).toBe("unknown_token");
  });

  test("bad requests name the field; a viewer may neither list nor create; an admin session needs its CSRF token", async () => {
    const bad = await hub.api("POST", "/api/federation/tokens", { uses: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toStartWith("uses:");
    expect((await hub.api("POST", "/api/federation/tokens", { label: "x", color: "red" })).status).toBe(400);
    const viewer = await dashboardLogin(hub.hub.httpUrl, hub.watchToken);
    expect((await viewer.call("GET", "/api/federation/tokens")).status).toBe(403);
    expect((await viewer.call("POST", "/api/federation/tokens", {})).status).toBe(403);
    const admin = await dashboardLogin(hub.hub.httpUrl, hub.adminToken);
    expect((await admin.call("GET", "/api/federation/tokens")).status).toBe(200);
    expect((await admin.call("POST", "/api/federation/tokens", {}, { csrf: null })).body.error).toBe("csrf_failed");
    expect((await admin.call("POST", "/api/federation/tokens", {})).status).toBe(201);
  });
});
