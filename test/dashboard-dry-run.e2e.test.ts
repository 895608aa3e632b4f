// POST /api/federation/decisions?dry_run=1 (and /mode) against a real hub
// over real HTTP: checked exactly as the real issue is (the same answer for
// every refusal), says how many nodes it would reach, and issues, stores,
// folds and publishes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cleanUp } from "./helpers.ts";
import { newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  for (const id of ["pi-a", "pi-b", "pi-c"]) expect((await hub.api("POST", "/federation/register", registerBody(newNode(id)), hub.enrollmentToken())).status).toBe(201);
});
afterAll(async () => {
  await hub?.stop();
  await cleanUp();
});

const issue = (body: unknown, dryRun: boolean) => hub.api("POST", `/api/federation/decisions${dryRun ? "?dry_run=1" : ""}`, body);
const nothingIssued = async () => {
  expect(await hub.hub.context.store.decisions.count()).toBe(0);
  expect(hub.hub.decisions.desiredPolicy("fleet")).toBeUndefined();
};

describe("dry run", () => {
  test("a fleet FREEZE says it reaches every node, and nothing is issued", async () => {
    const tried = await issue({ type: "FREEZE", target: "fleet", payload: { reason: "try" } }, true);
    expect(tried.status).toBe(200);
    expect(tried.body).toEqual({ valid: true, reaches: 3, targets: ["pi-a", "pi-b", "pi-c"] });
    const node = await issue({ type: "FREEZE", target: "pi-b", payload: {} }, true);
    expect(node.body).toEqual({ valid: true, reaches: 1, targets: ["pi-b"] });
    const mode = await hub.api("POST", "/api/federation/mode?dry_run=1", { mode: "PAUSED" });
    expect(mode.body).toEqual({ valid: true, reaches: 3, targets: ["pi-a", "pi-b", "pi-c"] });
    await nothingIssued();
  });

  test("every refusal is the real issue's, and neither issues anything", async () => {
    const refused = [
      { type: "FREEZE", target: "pi-nobody", payload: {} },
      { type: "NOT_A_TYPE", target: "fleet" },
      { type: "MODE_CHANGE", target: "fleet", payload: { mode: "WARP" } },
      { type: "OVERRIDE", target: "fleet", payload: { overridden_decision_id: "dec_missing", reason: "x" } },
      { type: "FREEZE", target: "fleet", payload: {}, surprise: 1 },
    ];
    for (const body of refused) {
      const tried = await issue(body, true);
      const real = await issue(body, false);
      expect(tried.status).toBeGreaterThanOrEqual(400);
      expect({ status: tried.status, body: tried.body }).toEqual({ status: real.status, body: real.body });
    }
    await nothingIssued();
  });

  test("after a dry run the real issue takes the first seq and reaches the same nodes", async () => {
    await issue({ type: "FREEZE", target: "fleet", payload: {} }, true);
    const real = await issue({ type: "FREEZE", target: "fleet", payload: {} }, false);
    expect(real.status).toBe(201);
    expect(real.body.seq).toBe(1);
    expect(real.body.targets).toEqual(["pi-a", "pi-b", "pi-c"]);
    expect(hub.hub.decisions.desiredPolicy("fleet")?.version).toBe(1); // what the dry runs did not leave behind
  });

  test("a bad dry_run value is refused", async () => {
    const answer = await hub.api("POST", "/api/federation/decisions?dry_run=maybe", { type: "FREEZE", target: "fleet" });
    expect(answer.status).toBe(400);
    expect(answer.body.detail).toStartWith("dry_run:");
  });
});
