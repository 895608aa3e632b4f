// Where a queued package goes: a pure choice among the nodes that may take
// it (healthy, advertising every capability it requires, below their
// concurrency limit, and its target if it names one), by its strategy.
// The scheduler (work-scheduler.ts) keeps the in-flight counts and the
// round robin cursor and hands them in.
import { seededRandom } from "../../lib/seeded-random.ts";
import type { WorkStrategy } from "./work-model.ts";

/** A node as placement sees it. */
export interface NodeSlots {
  nodeId: string;
  capabilities: readonly string[];
  healthy: boolean;
  /** Packages it runs at once at most (advertised in its birth); 0: none. */
  slots: number;
  /** Packages leased or running on it now. */
  inFlight: number;
  /** Its 1-minute load average from the last heartbeat; null: none yet. */
  load1: number | null;
  /** Smoothed round-trip time of offers (offer to first progress), ms; null: not measured yet. */
  rttMs: number | null;
}

export interface Placeable {
  id: string;
  requires: readonly string[];
  /** "any" or a node id. */
  target: string;
  strategy: WorkStrategy;
}

/**
 * A package in flight weighs on a node like one busy core: least_loaded
 * compares the heartbeat's load average plus this per package placed (the
 * heartbeat lags by seconds, so packages just placed must count at once).
 */
export const IN_FLIGHT_WEIGHT = 1;

export function eligible(pkg: Placeable, node: NodeSlots): boolean {
  return (
    node.healthy &&
    node.inFlight < node.slots &&
    (pkg.target === "any" || pkg.target === node.nodeId) &&
    pkg.requires.every((capability) => node.capabilities.includes(capability))
  );
}

export function leastLoadedScore(node: NodeSlots): number {
  return (node.load1 ?? 0) + IN_FLIGHT_WEIGHT * node.inFlight;
}

/**
 * The node for `pkg`, or null if none may take it now. `roundRobinAfter`
 * is the node the last round robin placement chose (the cursor); ties go to
 * the lower node id, so a placement is the same every time for the same inputs.
 */
export function chooseNode(pkg: Placeable, nodes: readonly NodeSlots[], roundRobinAfter: string | null): NodeSlots | null {
  const candidates = nodes.filter((node) => eligible(pkg, node)).sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  if (candidates.length === 0) return null;
  switch (pkg.strategy) {
    case "round_robin":
      // The next id after the cursor in id order, wrapping: stable across restarts since the cursor is stored.
      return candidates.find((node) => roundRobinAfter === null || node.nodeId > roundRobinAfter) ?? candidates[0]!;
    case "random":
      // Seeded by the package id: the same package goes to the same node given the same fleet (tests, replays).
      return candidates[Math.floor(seededRandom(hashOf(pkg.id))() * candidates.length)]!;
    case "latency": {
      // A node not measured yet counts as the fastest, so each gets measured; ties go to the less loaded.
      let best = candidates[0]!;
      for (const node of candidates) {
        const [rtt, bestRtt] = [node.rttMs ?? 0, best.rttMs ?? 0];
        if (rtt < bestRtt || (rtt === bestRtt && leastLoadedScore(node) < leastLoadedScore(best))) best = node;
      }
      return best;
    }
    case "least_loaded": {
      let best = candidates[0]!;
      for (const node of candidates) if (leastLoadedScore(node) < leastLoadedScore(best)) best = node;
      return best;
    }
  }
}

/** FNV-1a: a package id to a 32-bit seed. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
