// The decision form's starting payloads (hub/dashboard/ui/decision-examples.ts)
// pass the hub's own validation: each one dry-run against a real hub, the
// OVERRIDE naming a decision really issued. An API change that makes one
// invalid fails here, not in an operator's form.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { DECISION_TYPES } from "../protocol/messages.ts";
import { DECISION_EXAMPLES } from "../hub/dashboard/ui/decision-examples.ts";
import { removeTempDirs } from "./helpers.ts";
import { startTestHub, type TestHub } from "./support/hub-harness.ts";

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => {
  await hub.stop();
  removeTempDirs();
});

test("there is a starting payload for each of the ten types", () => {
  expect(Object.keys(DECISION_EXAMPLES).sort()).toEqual([...DECISION_TYPES].sort());
});

test("each starting payload passes the hub's dry run", async () => {
  const issued = await hub.api("POST", "/api/federation/decisions", { type: "MODE_CHANGE", target: "fleet", payload: { mode: "SHADOW" } });
  expect(issued.status).toBe(201);
  const answers: Record<string, unknown> = {};
  for (const [type, { payload }] of Object.entries(DECISION_EXAMPLES)) {
    const body = { type, target: "fleet", payload: type === "OVERRIDE" ? { ...payload, overridden_decision_id: issued.body.id } : payload };
    const answer = await hub.api("POST", "/api/federation/decisions?dry_run=1", body);
    answers[type] = answer.status === 200 ? answer.body.valid : answer.body;
  }
  expect(answers).toEqual(Object.fromEntries(DECISION_TYPES.map((type) => [type, true])));
});
