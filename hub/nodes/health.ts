// Node health from what the hub has heard (docs/hub.md, "Health").
// Pure: the sweep in fleet.ts calls it with the clock.
import type { HealthState, NodeLive } from "./node-model.ts";

export interface HealthRules {
  heartbeatMs: number;
  /** Silence after which a node is offline even without a last will. */
  offlineAfterMs: number;
  /** 1-minute load above which a node counts as overloaded. */
  degradedLoad: number;
  /**
   * When the hub started listening. Heartbeats sent while the hub was down
   * were never queued for it (QoS 0), so silence counts from no earlier than
   * this: a hub restart must not mark the whole fleet unhealthy.
   */
  listeningSince: number;
}

/** A heartbeat more than half an interval overdue is late. */
const LATE_FACTOR = 1.5;
const MISSED_FOR_UNHEALTHY = 3;

/** What health is judged from: a node's live view, or the narrow read of it the sweep of several replicas makes. */
export type HealthInputs = Pick<NodeLive, "state" | "stateAt" | "lastHeartbeatAt" | "connectivity"> & { load: readonly number[] | null };

export function classifyHealth(live: HealthInputs, now: number, rules: HealthRules): { state: HealthState; cause: string } {
  if (live.state === "offline") return { state: "offline", cause: "node said offline (last will or clean stop)" };
  // A node that just said online (reconnect) counts from then, even if its last heartbeat is old.
  const heardAt = live.state === "online" ? Math.max(live.lastHeartbeatAt ?? 0, live.stateAt ?? 0) || null : live.lastHeartbeatAt;
  if (heardAt === null) return { state: "offline", cause: "never heard from" };
  const silentMs = now - Math.max(heardAt, rules.listeningSince);
  if (silentMs > rules.offlineAfterMs) return { state: "offline", cause: `silent for ${Math.round(silentMs / 1000)} s` };
  const missed = Math.floor(silentMs / rules.heartbeatMs);
  if (missed >= MISSED_FOR_UNHEALTHY) return { state: "unhealthy", cause: `${missed} heartbeats missed` };
  if (silentMs > rules.heartbeatMs * LATE_FACTOR) return { state: "degraded", cause: "heartbeat late" };
  const load1 = live.load?.[0];
  if (load1 !== undefined && load1 > rules.degradedLoad) return { state: "degraded", cause: `load ${load1}` };
  if (live.connectivity === "simulation") return { state: "degraded", cause: "node in simulation mode" };
  return { state: "healthy", cause: "heartbeat on time" };
}
