// `npm run federation -- replay` as a process: recorded FederationEvents in
// on stdin, each decision a role would have issued, the conflicts and
// alerts out as JSONL, a bad line an error line (the replay goes on), a
// summary last; a bad config refused naming its file and field.
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { healthEvent, s, snapshots, tick } from "./fixtures/federation.ts";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";

afterAll(removeTempDirs);

const CLI = join(REPO_ROOT, "hub/federation/cli.ts");

function federation(args: string[], lines: unknown[]): { code: number | null; out: any[]; stderr: string } {
  const input = lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n");
  const result = Bun.spawnSync([BUN, CLI, ...args], { stdin: new TextEncoder().encode(input), stderr: "pipe", cwd: tempDir() });
  const stdout = result.stdout.toString();
  return { code: result.exitCode, out: stdout ? stdout.trimEnd().split("\n").map((line) => JSON.parse(line)) : [], stderr: result.stderr.toString() };
}

function configFile(text: string, name = "federation.yaml"): string {
  const file = join(tempDir(), name);
  writeFileSync(file, text);
  return file;
}

describe("npm run federation -- replay", () => {
  test("prints each decision, alert and bad line, then the summary with decisions per role and type and the time frozen", () => {
    const config = configFile("roles:\n  supervisor: {mode: active}\n  capital_allocator: {mode: off}\n");
    const events = [
      ...snapshots("node-a", 0, 3, () => 20), // frozen at 10 (advisory roles too: a replay shows what they would issue)
      "{not json",
      { type: "portfolio", node: "node-a", at: s(12) }, // no report
      healthEvent("node-a", s(13), "NOMINAL"),
      ...snapshots("node-a", 15, 250, () => 0), // recovered: lifted at 910
      tick(s(2000)),
    ];
    const { code, out, stderr } = federation(["replay", "--config", config], events);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const kinds = out.map((r) => r.kind);
    expect(kinds.at(-1)).toBe("summary");
    const decisions = out.filter((r) => r.kind === "decision");
    const supervisor = decisions.filter((d) => d.role === "supervisor");
    expect(supervisor.map((d) => [d.type, (d.at - s(0)) / 1000, d.mode, d.issued])).toEqual([
      ["FREEZE", 10, "active", true],
      ["MODE_CHANGE", 910, "active", true],
    ]);
    expect(supervisor[0]).toMatchObject({ target: "fleet", rule: "fleet_drawdown", inputs: { fleet_drawdown_pct: 20, samples: 3 }, thresholds: { fleet_drawdown_pct: 15 } });
    expect(decisions.filter((d) => d.role === "risk_officer").map((d) => [d.mode, d.issued])).toContainEqual(["advisory", false]);
    expect(out.filter((r) => r.kind === "alert")).toContainEqual(expect.objectContaining({ alert: "supervisor_freeze", severity: "critical" }));
    expect(out.filter((r) => r.kind === "error")).toEqual([
      { kind: "error", line: 4, error: "invalid_json", detail: expect.any(String) },
      { kind: "error", line: 5, error: "invalid_event", detail: "report: Invalid input: expected object, received undefined" },
    ]);
    const summary = out.at(-1);
    expect(summary).toMatchObject({ lines: events.length, events: events.length - 2, errors: 2, from: s(0), to: s(2000), frozen_s: { fleet: 900 } });
    expect(summary.decisions.supervisor).toEqual({ FREEZE: 1, MODE_CHANGE: 1 });
    expect(summary.decisions.capital_allocator).toBeUndefined();
    expect(summary.decisions_total).toBe(decisions.length);
  });

  test("the same input gives the same output", () => {
    const events = [...snapshots("node-a", 0, 200, (i) => (i < 100 ? 14 + i / 20 : 3))];
    const first = federation(["replay"], events);
    expect(first.code).toBe(0);
    expect(federation(["replay"], events).out).toEqual(first.out);
  });

  test("a bad config is refused naming file and field; no command or another is a usage error", () => {
    const bad = configFile("roles:\n  supervisor:\n    fleet_drawdown: {min_samples: 0}\n  ress_guard: {}\n");
    const refused = federation(["replay", "--config", bad], []);
    expect(refused.code).toBe(2);
    expect(refused.stderr.split("\n").filter(Boolean).sort()).toEqual(
      [
        `edgefed federation: ${bad}: roles.supervisor.fleet_drawdown.min_samples: a whole number, 1 or more`,
        `edgefed federation: ${bad}: roles.ress_guard: unknown field (did you mean ess_guard?)`,
      ].sort(),
    );
    expect(federation(["replay", "--config", "/nonexistent.yaml"], []).stderr).toBe("edgefed federation: /nonexistent.yaml: cannot read (ENOENT)\n");
    expect(federation([], [])).toMatchObject({ code: 2, stderr: "edgefed federation: which command? replay (see --help)\n" });
    expect(federation(["replya"], [])).toMatchObject({ code: 2, stderr: "edgefed federation: replya: unknown command; replay (see --help)\n" });
  });
});
