import { describe, expect, test } from "bun:test";
import { EPISODE_QUIET_MS, PublishBudget } from "./publish-budget.ts";

function budgetWithReports(): { budget: PublishBudget; reports: [string, boolean][] } {
  const reports: [string, boolean][] = [];
  const budget = new PublishBudget({ burst: 2, perSecond: 1 }, (nodeId, episodeStarts) => reports.push([nodeId, episodeStarts]));
  return { budget, reports };
}

describe("PublishBudget", () => {
  test("a node within its budget is allowed and nothing is reported", () => {
    const { budget, reports } = budgetWithReports();
    expect([budget.allows("pi-1", 0), budget.allows("pi-1", 0), budget.allows("pi-1", 1000)]).toEqual([true, true, true]);
    expect(reports).toEqual([]);
  });

  test("every message over is reported; only the first of an episode starts one", () => {
    const { budget, reports } = budgetWithReports();
    budget.allows("pi-1", 0);
    budget.allows("pi-1", 0);
    expect([budget.allows("pi-1", 0), budget.allows("pi-1", 10), budget.allows("pi-2", 10)]).toEqual([false, false, true]);
    expect(reports).toEqual([
      ["pi-1", true],
      ["pi-1", false],
    ]);
  });

  test("after a quiet minute the next time over is a new episode", () => {
    const { budget, reports } = budgetWithReports();
    for (let i = 0; i < 3; i++) budget.allows("pi-1", 0);
    // Over again just inside the quiet minute: the same episode, which starts its minute afresh.
    const later = EPISODE_QUIET_MS - 1;
    for (let i = 0; i < 3; i++) budget.allows("pi-1", later);
    const quietAfter = later + EPISODE_QUIET_MS;
    for (let i = 0; i < 3; i++) budget.allows("pi-1", quietAfter);
    expect(reports.filter(([, starts]) => starts)).toHaveLength(2);
    expect(reports).toHaveLength(3);
  });
});
