// Placement per strategy: fairness over 1,000 packages and 10 nodes (round
// robin exact, least loaded within a bound), capabilities, targets, health
// and the per-node concurrency limit respected, random reproducible.
import { describe, expect, test } from "bun:test";
import { chooseNode, type NodeSlots, type Placeable } from "./placement.ts";
import type { WorkStrategy } from "./work-model.ts";

function fleet(count: number, overrides: (i: number) => Partial<NodeSlots> = () => ({})): NodeSlots[] {
  return Array.from({ length: count }, (_, i) => ({
    nodeId: `pi-${String(i).padStart(2, "0")}`,
    capabilities: ["diagnostics"],
    healthy: true,
    slots: 1000,
    inFlight: 0,
    load1: 0,
    rttMs: null,
    ...overrides(i),
  }));
}

const pkg = (id: number, strategy: WorkStrategy, overrides: Partial<Placeable> = {}): Placeable => ({ id: `wp_${id}`, requires: ["diagnostics"], target: "any", strategy, ...overrides });

/** Places `count` packages one after another as the scheduler does: in-flight counts and the cursor carried along. */
function placeAll(nodes: NodeSlots[], strategy: WorkStrategy, count: number): string[] {
  let cursor: string | null = null;
  const chosen: string[] = [];
  for (let i = 0; i < count; i++) {
    const node = chooseNode(pkg(i, strategy), nodes, cursor);
    if (!node) break;
    node.inFlight++;
    if (strategy === "round_robin") cursor = node.nodeId;
    chosen.push(node.nodeId);
  }
  return chosen;
}

const tally = (ids: string[]) => ids.reduce<Record<string, number>>((counts, id) => ({ ...counts, [id]: (counts[id] ?? 0) + 1 }), {});

describe("placement", () => {
  test("round robin over 10 nodes gives 1,000 packages exactly 100 each, in id order, wrapping", () => {
    const chosen = placeAll(fleet(10), "round_robin", 1000);
    expect(Object.values(tally(chosen))).toEqual(Array(10).fill(100));
    expect(chosen.slice(0, 12)).toEqual(["pi-00", "pi-01", "pi-02", "pi-03", "pi-04", "pi-05", "pi-06", "pi-07", "pi-08", "pi-09", "pi-00", "pi-01"]);
  });

  test("round robin continues after the cursor it is given (a hub restart) and skips nodes that may not take the package", () => {
    const nodes = fleet(4, (i) => (i === 2 ? { healthy: false } : {}));
    expect(chooseNode(pkg(1, "round_robin"), nodes, "pi-01")!.nodeId).toBe("pi-03");
    expect(chooseNode(pkg(1, "round_robin"), nodes, "pi-03")!.nodeId).toBe("pi-00");
    expect(chooseNode(pkg(1, "round_robin"), nodes, "pi-gone")!.nodeId).toBe("pi-00");
  });

  test("least loaded over 10 equal nodes keeps 1,000 packages within one of each other", () => {
    const counts = Object.values(tally(placeAll(fleet(10), "least_loaded", 1000)));
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  test("least loaded weighs the heartbeat's load: a node at load 5 gets 5 fewer packages than its idle peers, within one", () => {
    const counts = tally(placeAll(fleet(10, (i) => ({ load1: i === 0 ? 5 : 0 })), "least_loaded", 1000));
    const others = Object.entries(counts).filter(([id]) => id !== "pi-00").map(([, n]) => n);
    for (const n of others) expect(Math.abs(n - 5 - counts["pi-00"]!)).toBeLessThanOrEqual(1);
  });

  test("random is reproducible per package and spreads 1,000 packages over every node", () => {
    const nodes = fleet(10);
    expect(chooseNode(pkg(7, "random"), nodes, null)!.nodeId).toBe(chooseNode(pkg(7, "random"), fleet(10), null)!.nodeId);
    const counts = Object.values(tally(placeAll(fleet(10), "random", 1000)));
    expect(counts.length).toBe(10);
    expect(Math.min(...counts)).toBeGreaterThan(50);
  });

  test("latency picks the lowest smoothed round-trip time; a node not measured yet first, ties to the less loaded", () => {
    expect(chooseNode(pkg(1, "latency"), fleet(3, (i) => ({ rttMs: [40, 12, 25][i]! })), null)!.nodeId).toBe("pi-01");
    expect(chooseNode(pkg(1, "latency"), fleet(3, (i) => ({ rttMs: [40, 12, null][i]! })), null)!.nodeId).toBe("pi-02");
    expect(chooseNode(pkg(1, "latency"), fleet(3, (i) => ({ load1: [2, 0.5, 1][i]! })), null)!.nodeId).toBe("pi-01");
  });

  for (const strategy of ["least_loaded", "round_robin", "random", "latency"] as const) {
    test(`${strategy}: never a node without a required capability, unhealthy, other than the target, or at its concurrency limit`, () => {
      const nodes = fleet(10, (i) => ({ slots: 3, capabilities: i % 2 === 0 ? ["diagnostics"] : ["kernel"], healthy: i !== 4 }));
      const chosen = placeAll(nodes, strategy, 1000);
      // Even ids but 4 advertise diagnostics and are healthy: 4 nodes, 3 slots each.
      expect(chosen.length).toBe(12);
      expect(tally(chosen)).toEqual({ "pi-00": 3, "pi-02": 3, "pi-06": 3, "pi-08": 3 });
      expect(chooseNode(pkg(1, strategy, { target: "pi-02" }), fleet(10), null)!.nodeId).toBe("pi-02");
      expect(chooseNode(pkg(1, strategy, { target: "pi-02" }), fleet(10, (i) => (i === 2 ? { slots: 0 } : {})), null)).toBeNull();
    });
  }
});
