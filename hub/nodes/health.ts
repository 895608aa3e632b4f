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

type Health = { state: HealthState; cause: string };

export function classifyHealth(live: NodeLive, now: number, rules: HealthRules): Health {
  if (live.state === "offline") return { state: "offline", cause: "node said offline (last will or clean stop)" };
  const silence = healthOfSilence(heardAtOf(live), now, rules);
  if (silence) return silence;
  if (live.load && live.load[0] > rules.degradedLoad) return { state: "degraded", cause: `load ${live.load[0]}` };
  if (live.connectivity === "simulation") return { state: "degraded", cause: "node in simulation mode" };
  return { state: "healthy", cause: "heartbeat on time" };
}

/** When the node was last heard from, as silence counts: a node that just said online (reconnect) counts from then, even if its last heartbeat is old. */
export function heardAtOf(live: Pick<NodeLive, "state" | "stateAt" | "lastHeartbeatAt">): number | null {
  return live.state === "online" ? Math.max(live.lastHeartbeatAt ?? 0, live.stateAt ?? 0) || null : live.lastHeartbeatAt;
}

/**
 * The health silence alone makes of a node last heard at `heardAt`, or null
 * when it is not silent (then what it said decides: classifyHealth). The
 * sweep of several replicas judges from this and the stored heard_at.
 */
export function healthOfSilence(heardAt: number | null, now: number, rules: HealthRules): Health | null {
  if (heardAt === null) return { state: "offline", cause: "never heard from" };
  const silentMs = now - Math.max(heardAt, rules.listeningSince);
  if (silentMs > rules.offlineAfterMs) return { state: "offline", cause: `silent for ${Math.round(silentMs / 1000)} s` };
  const missed = Math.floor(silentMs / rules.heartbeatMs);
  if (missed >= MISSED_FOR_UNHEALTHY) return { state: "unhealthy", cause: `${missed} heartbeats missed` };
  if (silentMs > rules.heartbeatMs * LATE_FACTOR) return { state: "degraded", cause: "heartbeat late" };
  return null;
}
