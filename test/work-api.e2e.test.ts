// The work package API end to end on a real hub (HTTP and its registry):
// submit (201 with the id; a retry with the same idempotency_key answers
// 200 with the same package), fleet fan-out to every node advertising what
// the package requires, list filters and paging, detail with attempts and
// history, cancel, and bad input refused naming the field.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { removeTempDirs } from "./helpers.ts";
import { newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
  for (const [nodeId, capabilities] of [
    ["wa-diag-1", ["kernel", "diagnostics"]],
    ["wa-diag-2", ["kernel", "diagnostics"]],
    ["wa-plain", ["kernel"]],
  ] as const) {
    const response = await t.api("POST", "/federation/register", registerBody(newNode(nodeId), { capabilities }), t.enrollmentToken());
    expect(response.status).toBe(201);
  }
});
afterAll(async () => {
  await t.stop();
  removeTempDirs();
});

const submit = (body: Record<string, unknown>) => t.api("POST", "/api/federation/work", body);

test("a submit answers 201 with the id; a retry with its idempotency_key answers 200 with the same package and stores nothing new", async () => {
  const body = { kind: "diagnostics", requires: ["diagnostics"], payload: { log_lines: 10 }, idempotency_key: "wa-once" };
  const first = await submit(body);
  expect(first.status).toBe(201);
  expect(first.body).toMatchObject({ created: true, packages: [{ id: first.body.id, state: "queued", kind: "diagnostics", target: "any", attempt: 0, max_attempts: 3, lease_s: 60 }] });
  const again = await submit(body);
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ id: first.body.id, created: false });
  const listed = await t.api("GET", "/api/federation/work?kind=diagnostics&limit=100");
  expect(listed.body.packages.filter((p: { idempotency_key: string }) => p.idempotency_key === "wa-once").length).toBe(1);
});

test("target fleet fans out one package per node advertising every required capability, sharing a group; a retry returns the group", async () => {
  const body = { kind: "diagnostics", requires: ["diagnostics"], target: "fleet", idempotency_key: "wa-fleet" };
  const fanned = await submit(body);
  expect(fanned.status).toBe(201);
  expect(fanned.body.packages.map((p: { target: string; group: string }) => [p.target, p.group])).toEqual([
    ["wa-diag-1", fanned.body.id],
    ["wa-diag-2", fanned.body.id],
  ]);
  const again = await submit(body);
  expect(again.status).toBe(200);
  expect(again.body.packages.map((p: { id: string }) => p.id)).toEqual(fanned.body.packages.map((p: { id: string }) => p.id));
  expect((await submit({ kind: "x", requires: ["gpu"], target: "fleet" })).body).toMatchObject({ error: "no_matching_nodes" });
});

test("list filters by state and kind and pages by next_before; detail shows attempts and history; cancel ends it once", async () => {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await submit({ kind: "wa.page", payload: { i } })).body.id);
  const page1 = await t.api("GET", "/api/federation/work?kind=wa.page&limit=2");
  expect(page1.body.packages.map((p: { id: string }) => p.id)).toEqual([ids[2], ids[1]]);
  const page2 = await t.api("GET", `/api/federation/work?kind=wa.page&limit=2&before=${page1.body.next_before}`);
  expect(page2.body).toEqual({ packages: [expect.objectContaining({ id: ids[0] })], next_before: null });

  const cancelled = await t.api("POST", `/api/federation/work/${ids[1]}/cancel`);
  expect(cancelled).toMatchObject({ status: 200, body: { id: ids[1], state: "cancelled", error: "cancelled by an operator" } });
  expect(await t.api("POST", `/api/federation/work/${ids[1]}/cancel`)).toMatchObject({ status: 409, body: { error: "work_finished" } });
  expect((await t.api("GET", "/api/federation/work?kind=wa.page&state=cancelled")).body.packages.map((p: { id: string }) => p.id)).toEqual([ids[1]]);

  const detail = await t.api("GET", `/api/federation/work/${ids[1]}`);
  expect(detail.body).toMatchObject({ id: ids[1], state: "cancelled", attempts: [] });
  expect(detail.body.events.map((e: { from: string; to: string }) => [e.from, e.to])).toEqual([
    ["queued", "queued"],
    ["queued", "cancelled"],
  ]);
  expect(await t.api("GET", "/api/federation/work/wp_nothing")).toMatchObject({ status: 404, body: { error: "unknown_work_package" } });
  const summary = await t.api("GET", "/api/federation/work/summary");
  expect(summary.body.by_state.cancelled).toBeGreaterThanOrEqual(1);
});

test("bad input is refused with 400 naming the field; a node target must be registered and advertise what is required; admin only", async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ payload: {} }, "kind"],
    [{ kind: "Rm -rf" }, "kind"],
    [{ kind: "diagnostics", strategy: "fastest" }, "strategy"],
    [{ kind: "diagnostics", lease_s: 0 }, "lease_s"],
    [{ kind: "diagnostics", max_attempts: 0 }, "max_attempts"],
    [{ kind: "diagnostics", target: "Not A Node" }, "target"],
    [{ kind: "diagnostics", payload: { blob: "x".repeat(40_000) } }, "payload"],
    [{ kind: "diagnostics", command: "rm -rf /" }, "body"],
  ];
  for (const [body, field] of cases) {
    const response = await submit(body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: "invalid_body", detail: expect.stringContaining(field) });
  }
  expect(await submit({ kind: "diagnostics", target: "wa-nobody" })).toMatchObject({ status: 404, body: { error: "unknown_node" } });
  expect(await submit({ kind: "diagnostics", requires: ["diagnostics"], target: "wa-plain" })).toMatchObject({ status: 409, body: { error: "node_lacks_capability" } });
  expect((await t.api("GET", "/api/federation/work?state=lost")).status).toBe(400);
  expect((await t.api("GET", "/api/federation/work", undefined, "not-the-admin")).status).toBe(401);
});
