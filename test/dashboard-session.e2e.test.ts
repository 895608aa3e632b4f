// The dashboard's login against a real hub over real HTTPS (issue 13):
// sessions from the admin and watch tokens, the cookie's attributes, CSRF on
// every write, the viewer's read-only role, expiry, and the bearer token
// still working for scripts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { cleanUp } from "./helpers.ts";
import { dashboardLogin, sessionRequest } from "./support/dashboard-client.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";

let hub: TestHub;
const logs: string[] = [];

beforeAll(async () => {
  hub = await startTestHub({ log: (line) => logs.push(line) });
});
afterAll(async () => {
  await hub?.stop();
  await cleanUp();
});

const url = () => hub.hub.httpUrl;

describe("login", () => {
  test("the admin token opens an admin session in an HttpOnly, SameSite=Strict cookie; GET reads it back", async () => {
    const admin = await dashboardLogin(url(), hub.adminToken);
    expect(admin.role).toBe("admin");
    expect(admin.csrfToken).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(admin.expiresAt).toBeGreaterThan(Date.now() + 43_000_000);
    const attributes = admin.setCookie.split(";").map((part) => part.trim());
    expect(attributes[0]).toMatch(/^edgefed_session=[A-Za-z0-9_-]{40,}$/);
    expect(attributes).toEqual(expect.arrayContaining(["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200", "Secure"])); // Secure: over HTTPS
    const read = await admin.call("GET", "/api/session");
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ role: "admin", operator: "admin", csrf_token: admin.csrfToken, expires_at: admin.expiresAt });
  });

  test("the watch token opens a viewer session", async () => {
    expect((await dashboardLogin(url(), hub.watchToken)).role).toBe("viewer");
  });

  test("a wrong, missing or malformed token is refused with the same answer, and no cookie", async () => {
    const answers = await Promise.all(
      [{ token: "nope" }, { token: `${hub.adminToken}x` }, {}, { token: 42 }].map((body) => sessionRequest(url(), "POST", "/api/session", body)),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({ error: "unauthorized", detail: "login refused" });
      expect(answer.headers.get("set-cookie")).toBeNull();
    }
  });

  test("without a cookie, or with an unknown one, there is no session", async () => {
    expect((await sessionRequest(url(), "GET", "/api/session")).status).toBe(401);
    expect((await sessionRequest(url(), "GET", "/api/session", undefined, { cookie: "edgefed_session=made-up" })).status).toBe(401);
    expect((await sessionRequest(url(), "GET", "/federation/nodes", undefined, { cookie: "edgefed_session=made-up" })).status).toBe(401);
  });

  test("logout needs the CSRF token, then ends the session and clears the cookie", async () => {
    const admin = await dashboardLogin(url(), hub.adminToken);
    expect((await admin.call("DELETE", "/api/session", undefined, { csrf: null })).status).toBe(403);
    const out = await admin.call("DELETE", "/api/session");
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/^edgefed_session=;.*Max-Age=0/);
    expect((await admin.call("GET", "/api/session")).status).toBe(401);
    expect((await admin.call("GET", "/federation/nodes")).status).toBe(401);
  });

  test("neither a token nor a session id reaches the log or the registry in the clear", async () => {
    const admin = await dashboardLogin(url(), hub.adminToken);
    await sessionRequest(url(), "POST", "/api/session", { token: "wrong-token-to-log" });
    const sessionId = admin.cookie.split("=")[1]!;
    const all = logs.join("\n");
    for (const secret of [hub.adminToken, sessionId, admin.csrfToken, "wrong-token-to-log"]) expect(all).not.toContain(secret);
    await eventually(() => readdirSync(hub.dataDir).includes("registry.sqlite"));
    const files = readdirSync(hub.dataDir).filter((f) => f.startsWith("registry.sqlite"));
    const bytes = Buffer.concat(files.map((f) => readFileSync(join(hub.dataDir, f))));
    expect(bytes.includes(Buffer.from(sessionId))).toBe(false);
  });
});

describe("what a session may do", () => {
  test("an admin session reads, and writes with its CSRF token only", async () => {
    const admin = await dashboardLogin(url(), hub.adminToken);
    expect((await admin.call("GET", "/federation/nodes")).status).toBe(200);
    expect((await admin.call("GET", "/api/federation/status")).status).toBe(200);
    const freeze = { type: "FREEZE", target: "fleet", payload: { reason: "csrf test" } };
    const without = await admin.call("POST", "/api/federation/decisions", freeze, { csrf: null });
    expect(without.status).toBe(403);
    expect(without.body.error).toBe("csrf_failed");
    const wrong = await admin.call("POST", "/api/federation/decisions", freeze, { csrf: admin.csrfToken.replace(/^./, (c) => (c === "A" ? "B" : "A")) });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toBe("csrf_failed");
    // Another session's token is not this one's.
    const other = await dashboardLogin(url(), hub.adminToken);
    expect((await admin.call("POST", "/api/federation/decisions", freeze, { csrf: other.csrfToken })).body.error).toBe("csrf_failed");
    expect((await hub.api("GET", "/api/federation/decisions")).body.decisions).toHaveLength(0); // nothing was issued
    const ok = await admin.call("POST", "/api/federation/decisions", freeze);
    expect(ok.status).toBe(201);
    expect(ok.body.type).toBe("FREEZE");
  });

  test("a viewer session reads, and cannot write even with its CSRF token", async () => {
    const viewer = await dashboardLogin(url(), hub.watchToken);
    expect((await viewer.call("GET", "/federation/nodes")).status).toBe(200);
    expect((await viewer.call("GET", "/api/federation/decisions")).status).toBe(200);
    const write = await viewer.call("POST", "/api/federation/mode", { mode: "PAUSED" });
    expect(write.status).toBe(403);
    expect(write.body.error).toBe("forbidden");
    expect((await viewer.call("PUT", "/api/federation/roles/supervisor", { mode: "off" })).body.error).toBe("forbidden");
    expect((await viewer.call("DELETE", "/federation/nodes/pi-x")).body.error).toBe("forbidden");
  });

  test("the bearer admin token still works for scripts, without CSRF; a wrong one is 401", async () => {
    expect((await hub.api("GET", "/federation/nodes")).status).toBe(200);
    expect((await hub.api("POST", "/api/federation/mode", { mode: "SHADOW" })).status).toBe(201);
    expect((await hub.api("GET", "/federation/nodes", undefined, "wrong-token")).status).toBe(401);
    // The watch token is for the dashboard's login, not a bearer for the API.
    expect((await hub.api("GET", "/federation/nodes", undefined, hub.watchToken)).status).toBe(401);
  });
});

describe("login over plaintext (EDGEFED_ALLOW_PLAINTEXT=1)", () => {
  test("the cookie is not Secure, so a lab browser on plain HTTP keeps it", async () => {
    const plain = await startTestHub({ tls: false });
    try {
      expect(plain.hub.httpUrl).toStartWith("http://");
      const admin = await dashboardLogin(plain.hub.httpUrl, plain.adminToken);
      expect(admin.setCookie.split(";").map((part) => part.trim())).not.toContain("Secure");
    } finally {
      await plain.stop();
    }
  });
});

describe("session expiry", () => {
  let short: TestHub;
  beforeAll(async () => {
    short = await startTestHub({ env: { EDGEFED_SESSION_TTL_S: "1" } });
  });
  afterAll(() => short?.stop());

  test("an expired session is refused everywhere, and the hub keeps no expired sessions past the next login", async () => {
    const admin = await dashboardLogin(short.hub.httpUrl, short.adminToken);
    expect(admin.setCookie).toContain("Max-Age=1");
    expect((await admin.call("GET", "/federation/nodes")).status).toBe(200);
    await eventually(async () => (await admin.call("GET", "/api/session")).status === 401, 5000, "the session to expire");
    expect((await admin.call("GET", "/federation/nodes")).status).toBe(401);
    expect((await admin.call("POST", "/api/federation/mode", { mode: "PAUSED" })).status).toBe(401);
  });

  test("a session outlives a hub restart", async () => {
    const restarted = await startTestHub();
    const admin = await dashboardLogin(restarted.hub.httpUrl, restarted.adminToken);
    await restarted.hub.stop();
    const again = await startTestHub({ dataDir: restarted.dataDir });
    try {
      const read = await sessionRequest(again.hub.httpUrl, "GET", "/api/session", undefined, { cookie: admin.cookie });
      expect(read.status).toBe(200);
      expect(read.body.csrf_token).toBe(admin.csrfToken);
    } finally {
      await again.stop();
    }
  });
});
