// The alert sink: what is raised is kept, logged as one line, listed newest
// first from a time, and bounded; a malformed alert is a bug and throws.
import { expect, test } from "bun:test";
import { Alerts } from "./alerts.ts";

const T = 1_700_000_000_000;

test("raised alerts are numbered, logged one line each, and listed newest first from a time", () => {
  const lines: string[] = [];
  const alerts = new Alerts((line) => lines.push(line));
  alerts.raise({ severity: "critical", kind: "fleet_frozen", message: "Supervisor froze the fleet: drawdown 12% past 10%", at: T });
  alerts.raise({ severity: "medium", kind: "role_conflicts", message: "5 conflicts in the last hour\nforged line", at: T + 10 });
  alerts.raise({ severity: "low", kind: "engine_unhealthy", message: "evaluation late", at: T + 20 });
  expect(lines).toEqual([
    "alert critical fleet_frozen: Supervisor froze the fleet: drawdown 12% past 10%",
    "alert medium role_conflicts: 5 conflicts in the last hour forged line",
    "alert low engine_unhealthy: evaluation late",
  ]);
  expect(alerts.list({ limit: 10 }).map((a) => [a.seq, a.kind])).toEqual([
    [3, "engine_unhealthy"],
    [2, "role_conflicts"],
    [1, "fleet_frozen"],
  ]);
  expect(alerts.list({ since: T + 10, limit: 10 }).map((a) => a.seq)).toEqual([3, 2]);
  expect(alerts.list({ limit: 1 }).map((a) => a.seq)).toEqual([3]);
  expect(alerts.list({ since: T + 21, limit: 10 })).toEqual([]);
});

test("only the newest are kept, and how many went is counted", () => {
  const alerts = new Alerts(() => {}, 3);
  for (let i = 0; i < 5; i++) alerts.raise({ severity: "high", kind: "capital_micro", message: `node ${i}`, at: T + i });
  expect(alerts.list({ limit: 10 }).map((a) => a.message)).toEqual(["node 4", "node 3", "node 2"]);
  expect(alerts.dropped).toBe(2);
});

test("a malformed alert throws naming its field, and is not kept", () => {
  const alerts = new Alerts(() => {});
  expect(() => alerts.raise({ severity: "urgent" as "high", kind: "x", message: "m", at: T })).toThrow(/^alert severity:/);
  expect(() => alerts.raise({ severity: "high", kind: "Not A Word", message: "m", at: T })).toThrow(/^alert kind:/);
  expect(() => alerts.raise({ severity: "high", kind: "x", message: "", at: T })).toThrow(/^alert message:/);
  expect(alerts.list({ limit: 10 })).toEqual([]);
});
