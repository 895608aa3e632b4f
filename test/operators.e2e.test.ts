// Operators (named admin and viewer tokens) and the audit trail against a
// real hub over real HTTP: created, listed, rotated and revoked through the
// admin API, each old token refused at once; a viewer reads and writes
// nothing; operators' tokens open dashboard sessions that end with them;
// every decision, removal, readmission, token and operator action is audited
// under whoever made it, and the trail verifies.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { verifyAuditTrail } from "../hub/audit/audit-chain.ts";
import type { DecisionOrigin } from "../hub/decisions/decision-origin.ts";
import { cleanUp } from "./helpers.ts";
import { dashboardLogin } from "./support/dashboard-client.ts";
import { newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  await t?.stop();
  await cleanUp();
});

const createOperator = async (name: string, role: "admin" | "viewer", by = t.adminToken) => {
  const created = await t.api("POST", "/api/federation/operators", { name, role }, by);
  expect(created.status).toBe(201);
  return created.body as { token: string; id: string; name: string; role: string };
};
/** The audit records newest first. */
const audit = async () => (await t.api("GET", "/api/federation/audit?limit=1000")).body.records as any[];
const auditOf = async (action: string, subject: string) => (await audit()).find((r) => r.action === action && r.subject === subject);

describe("operators over the admin API", () => {
  test("created (token shown once), listed without it, rotated and revoked: each old token is refused at once", async () => {
    const alice = await createOperator("alice", "admin");
    expect(alice.token).toMatch(/^efo_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(alice).toMatchObject({ name: "alice", role: "admin", created_by: "admin", revoked: false, rotated_at: null });
    const listed = (await t.api("GET", "/api/federation/operators")).body.operators;
    expect(listed.find((o: any) => o.name === "alice")).toEqual({ ...alice, token: undefined });
    expect(JSON.stringify(listed)).not.toContain(alice.token.slice(18));

    expect((await t.api("GET", "/federation/nodes", undefined, alice.token)).status).toBe(200);
    const rotated = await t.api("POST", "/api/federation/operators/alice/rotate", undefined, alice.token);
    expect(rotated.status).toBe(200);
    expect(rotated.body.token).not.toBe(alice.token);
    expect((await t.api("GET", "/federation/nodes", undefined, alice.token)).status).toBe(401);
    expect((await t.api("GET", "/federation/nodes", undefined, rotated.body.token)).status).toBe(200);

    const revoked = await t.api("DELETE", "/api/federation/operators/alice");
    expect(revoked.body).toMatchObject({ name: "alice", revoked: true });
    expect((await t.api("GET", "/federation/nodes", undefined, rotated.body.token)).status).toBe(401);
    expect((await t.api("DELETE", "/api/federation/operators/alice")).body.error).toBe("unknown_operator");
  });

  test("a name in force is taken; bad names and roles are refused naming the field", async () => {
    await createOperator("carol", "viewer");
    expect((await t.api("POST", "/api/federation/operators", { name: "carol", role: "admin" })).status).toBe(409);
    const bad = await t.api("POST", "/api/federation/operators", { name: "Role:x", role: "admin" });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toStartWith("name:");
    expect((await t.api("POST", "/api/federation/operators", { name: "admin", role: "admin" })).status).toBe(400);
    expect((await t.api("POST", "/api/federation/operators", { name: "dave", role: "root" })).body.detail).toStartWith("role:");
  });

  test("a viewer operator reads, and may not write nor manage operators or tokens", async () => {
    const viewer = await createOperator("vera", "viewer");
    expect((await t.api("GET", "/federation/nodes", undefined, viewer.token)).status).toBe(200);
    expect((await t.api("GET", "/api/federation/decisions", undefined, viewer.token)).status).toBe(200);
    const write = await t.api("POST", "/api/federation/mode", { mode: "SHADOW" }, viewer.token);
    expect(write.status).toBe(403);
    expect(write.body.error).toBe("forbidden");
    expect((await t.api("POST", "/api/federation/operators", { name: "eve", role: "admin" }, viewer.token)).status).toBe(403);
    expect((await t.api("GET", "/api/federation/operators", undefined, viewer.token)).status).toBe(403);
    expect((await t.api("POST", "/api/federation/tokens", {}, viewer.token)).status).toBe(403);
    expect((await t.api("GET", "/api/federation/audit", undefined, viewer.token)).status).toBe(403);
  });

  test("an operator's token opens a dashboard session of its role; revoking the operator ends it", async () => {
    const frank = await createOperator("frank", "admin");
    const session = await dashboardLogin(t.hub.httpUrl, frank.token);
    expect(session.role).toBe("admin");
    expect((await session.call("GET", "/api/session")).body).toMatchObject({ role: "admin", operator: "frank" });
    const issued = await session.call("POST", "/api/federation/mode", { mode: "SHADOW" });
    expect(issued.status).toBe(201);
    expect(issued.body.origin).toEqual({ kind: "operator", name: "frank" });
    const viewerSession = await dashboardLogin(t.hub.httpUrl, (await createOperator("gina", "viewer")).token);
    expect(viewerSession.role).toBe("viewer");
    expect((await viewerSession.call("POST", "/api/federation/mode", { mode: "SHADOW" })).status).toBe(403);
    await t.api("DELETE", "/api/federation/operators/frank");
    expect((await session.call("GET", "/federation/nodes")).status).toBe(401);
  });
});

describe("the audit trail", () => {
  test("each decision, removal, readmission, token and operator action is a record naming who made it", async () => {
    const helen = await createOperator("helen", "admin");
    const byHelen = (await t.api("POST", "/api/federation/mode", { mode: "SHADOW" }, helen.token)).body;
    const byAdmin = (await t.api("POST", "/api/federation/decisions", { type: "FREEZE", target: "fleet", payload: { reason: "audit" } })).body;
    const supervisor: DecisionOrigin = { kind: "role", role: "supervisor", rule: "fleet_drawdown", inputs: {}, thresholds: {} };
    const byRole = await t.hub.decisions.issue({ type: "MODE_CHANGE", target: "fleet", payload: { mode: "LIVE" } }, supervisor);
    expect(await auditOf("decision.issue", byHelen.id)).toMatchObject({ actor: "helen", detail: { type: "MODE_CHANGE", target: "fleet" } });
    expect(await auditOf("decision.issue", byAdmin.id)).toMatchObject({ actor: "admin", detail: { type: "FREEZE" } });
    expect(await auditOf("decision.issue", byRole.decision.id)).toMatchObject({ actor: "role:supervisor" });

    const node = newNode("pi-audit-1");
    expect((await t.api("POST", "/federation/register", registerBody(node), t.enrollmentToken())).status).toBe(201);
    expect((await t.api("DELETE", "/federation/nodes/pi-audit-1", undefined, helen.token)).status).toBe(200);
    expect((await t.api("POST", "/federation/nodes/pi-audit-1/readmit")).status).toBe(200);
    expect(await auditOf("node.remove", "pi-audit-1")).toMatchObject({ actor: "helen" });
    expect(await auditOf("node.readmit", "pi-audit-1")).toMatchObject({ actor: "admin" });

    const token = (await t.api("POST", "/api/federation/tokens", { label: "audited" }, helen.token)).body;
    expect(token.created_by).toBe("helen");
    expect((await t.api("DELETE", `/api/federation/tokens/${token.id}`)).status).toBe(200);
    expect(await auditOf("token.create", token.id)).toMatchObject({ actor: "helen", detail: { label: "audited" } });
    expect(await auditOf("token.revoke", token.id)).toMatchObject({ actor: "admin" });
    const tokens = (await t.api("GET", "/api/federation/tokens")).body.tokens;
    expect(tokens.find((x: any) => x.id === token.id).created_by).toBe("helen");

    await t.api("POST", "/api/federation/operators/helen/rotate", undefined, helen.token);
    expect(await auditOf("operator.create", "helen")).toMatchObject({ actor: "admin", detail: { role: "admin" } });
    expect(await auditOf("operator.rotate", "helen")).toMatchObject({ actor: "helen" });
    expect(await auditOf("operator.revoke", "alice")).toMatchObject({ actor: "admin" });
    // A dry run is checked like an issue and leaves no record.
    const before = (await audit()).length;
    expect((await t.api("POST", "/api/federation/mode?dry_run=1", { mode: "SHADOW" })).status).toBe(200);
    expect((await audit()).length).toBe(before);
  });

  test("listed newest first and paged; every record chains to the one before, and the whole trail verifies", async () => {
    const first = await t.api("GET", "/api/federation/audit?limit=3");
    expect(first.body.records).toHaveLength(3);
    const [a, b] = first.body.records;
    expect(a.seq).toBe(b.seq + 1);
    expect(a.prev_hash).toBe(b.hash);
    const next = await t.api("GET", `/api/federation/audit?limit=3&before=${first.body.next_before}`);
    expect(next.body.records[0].seq).toBe(first.body.records[2].seq - 1);
    expect((await t.api("GET", "/api/federation/audit?limit=0")).status).toBe(400);
    expect(await verifyAuditTrail(t.hub.context.store)).toEqual({ ok: true, records: (await audit()).length });
  });
});
