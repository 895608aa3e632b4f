// The federation config: the example holds every default, problems name
// the file and the field, and a hot reload keeps the config in force when
// the new file is bad.
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, removeTempDirs, tempDir } from "../../test/helpers.ts";
import { DEFAULT_FEDERATION_CONFIG } from "./config.ts";
import { FederationConfigError, FederationConfigWatcher, loadFederationConfig, parseFederationConfig } from "./config-file.ts";

afterAll(removeTempDirs);

function problems(text: string, file = "federation.yaml"): string[] {
  try {
    parseFederationConfig(text, file);
  } catch (error) {
    if (error instanceof FederationConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("federation config", () => {
  test("examples/federation.yaml holds every field at its default, and an empty file is the same config", () => {
    expect(loadFederationConfig(join(REPO_ROOT, "examples/federation.yaml"))).toEqual(DEFAULT_FEDERATION_CONFIG);
    expect(parseFederationConfig("", "empty.yaml")).toEqual(DEFAULT_FEDERATION_CONFIG);
    expect(parseFederationConfig("{}", "empty.json")).toEqual(DEFAULT_FEDERATION_CONFIG);
  });

  test("every role is advisory unless told", () => {
    for (const role of Object.values(DEFAULT_FEDERATION_CONFIG.roles)) expect(role.mode).toBe("advisory");
    expect(parseFederationConfig("roles: {supervisor: {mode: active}}", "f.yaml").roles.supervisor.mode).toBe("active");
  });

  test("each problem names the file and the field", () => {
    expect(problems("roles:\n  supervisr: {}\n")).toEqual(["federation.yaml: roles.supervisr: unknown field (did you mean supervisor?)"]);
    expect(problems("roles: {supervisor: {mode: on}}")).toEqual([expect.stringMatching(/^federation\.yaml: roles\.supervisor\.mode: /)]);
    expect(problems("engine: {min_interval_s: -1, max_decisions_per_hour: 0.5}")).toEqual([
      "federation.yaml: engine.min_interval_s: seconds, 0 or more",
      expect.stringMatching(/^federation\.yaml: engine\.max_decisions_per_hour: /),
    ]);
    expect(problems("roles: {supervisor: {fleet_drawdown: {freeze_at_pct: 8}}}")).toEqual(["federation.yaml: roles.supervisor.fleet_drawdown.lift_below_pct: must be below freeze_at_pct (8)"]);
    expect(problems("roles: {risk_officer: {drawdown: {steps: [{at_drawdown_pct: 5, max_leverage: 2, max_exposure_pct: null, max_position_size_usd: null}, {at_drawdown_pct: 5, max_leverage: 1, max_exposure_pct: null, max_position_size_usd: null}]}}}")).toEqual([
      "federation.yaml: roles.risk_officer.drawdown.steps.1.at_drawdown_pct: must be above step 0's (5)",
    ]);
    expect(problems("roles: {capital_allocator: {cashflow: {profit_lock_pct: 50}}}")).toEqual(["federation.yaml: roles.capital_allocator.cashflow.reinvest_pct: profit_lock_pct + reinvest_pct must be 100"]);
    expect(problems('{"engine": {"conflict_window_s": "5m"}}', "f.json")).toEqual([expect.stringMatching(/^f\.json: engine\.conflict_window_s: /)]);
    expect(problems("engine: [")[0]).toMatch(/^federation\.yaml: /);
    expect(() => loadFederationConfig("/nonexistent/federation.yaml")).toThrow("/nonexistent/federation.yaml: cannot read (ENOENT)");
  });

  test("hot reload: a good change is taken, a bad one is refused with why and the config in force stays", async () => {
    const file = join(tempDir(), "federation.yaml");
    writeFileSync(file, "roles: {supervisor: {mode: advisory}}\n");
    const reloaded: number[] = [];
    const refused: string[][] = [];
    const watcher = FederationConfigWatcher.start(file, { onReload: (c) => reloaded.push(c.engine.min_interval_s), onRefused: (p) => refused.push(p) }, 20);
    try {
      expect(watcher.current.roles.supervisor.mode).toBe("advisory");
      const waitFor = async (done: () => boolean) => {
        for (let i = 0; i < 200 && !done(); i++) await Bun.sleep(10);
        expect(done()).toBe(true);
      };

      writeFileSync(file, "roles: {supervisor: {mode: active}}\nengine: {min_interval_s: 60}\n");
      await waitFor(() => reloaded.length === 1);
      expect(watcher.current.roles.supervisor.mode).toBe("active");

      writeFileSync(file, "roles: {supervisor: {mode: activ}}\n");
      await waitFor(() => refused.length === 1);
      expect(refused[0]![0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: roles\\.supervisor\\.mode: `));
      expect(refused[0]!.at(-1)).toBe(`${file}: refused; the config in force stays`);
      expect(watcher.current.roles.supervisor.mode).toBe("active");
      expect(watcher.current.engine.min_interval_s).toBe(60);

      // reload() by hand (e.g. on SIGHUP) gives the same answer, and an unchanged file is no reload.
      expect(watcher.reload()).toBe(false);
      writeFileSync(file, "roles: {supervisor: {mode: off}}\n");
      await waitFor(() => reloaded.length === 2);
      expect(watcher.current.roles.supervisor.mode).toBe("off");
    } finally {
      watcher.stop();
    }
  });
});
