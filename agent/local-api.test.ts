// The local API's report endpoints (POST /v1/portfolio, /v1/health,
// /v1/models) on a real agent without a hub, over real HTTP on its Unix socket: a
// good report is recorded and shown in /v1/status, a bad one is answered 400
// naming its field, and nothing of a refused request is kept.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { reportedPortfolio } from "../test/fixtures/portfolio.ts";
import { join } from "node:path";
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import { callLocalApi, postJson, testAgentConfig } from "../test/support/agent-harness.ts";
import { Agent } from "./agent.ts";

let agent: Agent;
beforeAll(async () => {
  agent = await Agent.start(testAgentConfig(null, "local-api-reports", { apiSocket: join(tempDir(), "agent.sock") }));
});
afterAll(async () => {
  await agent.stop();
  removeTempDirs();
});

const post = (path: string, body: unknown, type?: string) => postJson(agent, path, body, type);

async function status(): Promise<any> {
  return (await callLocalApi(agent, "/v1/status")).body;
}

const now = Date.now();
const portfolio = reportedPortfolio(now);
const health = { system_status: "DEGRADED", ess_state: "CAUTION", ts: now };
const model = { model_name: "NHiTS", sharpe_ratio: 1.2, win_rate: 0.55, profit_factor: 1.6, total_trades: 40, days_since_training: 3, ts: now };

describe("report endpoints", () => {
  test("each records its report, answers how many, and /v1/status shows the latest of each", async () => {
    expect(await post("/v1/portfolio", portfolio)).toEqual({ status: 200, body: { recorded: 1, duplicates: 0 } });
    expect(await post("/v1/health", health)).toEqual({ status: 200, body: { recorded: 1, duplicates: 0 } });
    expect(await post("/v1/models", model)).toEqual({ status: 200, body: { recorded: 1, duplicates: 0 } });
    expect(await post("/v1/models", [{ ...model, ts: now + 1 }, { ...model, model_name: "XGBoost" }])).toEqual({ status: 200, body: { recorded: 2, duplicates: 0 } });
    // A retry of the latest (the strategy did not hear the answer) is answered, not recorded again.
    expect(await post("/v1/portfolio", portfolio)).toEqual({ status: 200, body: { recorded: 0, duplicates: 1 } });
    const { reports } = await status();
    expect(reports.portfolio).toEqual({ report: portfolio, received_at: expect.any(Number) });
    expect(reports.health.report).toEqual(health);
    expect(reports.models.map((m: { report: { model_name: string; ts: number } }) => [m.report.model_name, m.report.ts])).toEqual([
      ["NHiTS", now + 1],
      ["XGBoost", now],
    ]);
  });

  test.each([
    ["/v1/portfolio", { ...portfolio, ts: now + 10, drawdown_pct: -1 }, "invalid_portfolio", /^drawdown_pct: must be 0 or more$/],
    ["/v1/portfolio", { ...portfolio, ts: now + 10, num_positions: 2.5 }, "invalid_portfolio", /^num_positions: /],
    ["/v1/portfolio", { ...portfolio, ts: now + 10, win_rate_today: 60 }, "invalid_portfolio", /^win_rate_today: a fraction from 0 to 1/],
    ["/v1/portfolio", { ...portfolio, ts: now + 120_000 }, "invalid_portfolio", /^ts: .* is more than 60 s ahead of this clock/],
    ["/v1/portfolio", { ...portfolio, ts: now - 1 }, "invalid_portfolio", /^ts: .* is before that of the latest portfolio snapshot/],
    ["/v1/portfolio", '{"total_equity": 1e400}', "invalid_portfolio", /^total_equity: .*Infinity/],
    ["/v1/portfolio", [portfolio], "invalid_body", /^body: one portfolio report, not an array$/],
    ["/v1/health", { ...health, ts: now + 10, ess_state: "PANIC" }, "invalid_health", /^ess_state: /],
    ["/v1/health", { ess_state: "NOMINAL", ts: now + 10 }, "invalid_health", /^system_status: /],
    ["/v1/health", null, "invalid_health", /^body: /],
    ["/v1/models", { ...model, ts: now + 10, total_trades: -1 }, "invalid_models", /^total_trades: /],
    ["/v1/models", [{ ...model, model_name: "LightGBM" }, { ...model, model_name: "PatchTST", profit_factor: "2" }], "invalid_models", /^\[1\] profit_factor: /],
    ["/v1/models", [], "invalid_body", /^body: the array is empty$/],
  ])("%s %j: 400 naming the field", async (path, body, error, detail) => {
    const before = await status();
    const answer = await post(path, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe(error);
    expect(answer.body.detail).toMatch(detail);
    expect((await status()).reports).toEqual(before.reports); // nothing of it kept
  });

  test("a body that is not JSON, or not declared JSON, is refused as on the other endpoints", async () => {
    expect(await post("/v1/health", "{nope")).toMatchObject({ status: 400, body: { error: "invalid_json" } });
    expect(await post("/v1/models", JSON.stringify(model), "text/plain")).toMatchObject({ status: 415 });
  });
});
