// A restarted hub's federation engine goes on where the one before stopped,
// rebuilt before it sees anything new: its windows from the federation
// events the hub (or every replica of a shared registry) recorded, read in
// committed order so a tail of them goes on exactly where the rebuild ended
// (event-tail.ts) (the longest window the config reads, at most
// REBUILD_WINDOW_MAX_MS before now), each node's health as it stood when
// that window starts, and what the hub kept of the engine (each rule's
// latch, the role decision records and conflicts, the operators' OVERRIDEs
// of role decisions still silencing a role). No role runs while it is
// rebuilt, so nothing is issued, recorded or raised; the same records give
// the same engine. A registry from before latches were kept (schema 7 or older) has
// none: a fleet freeze in force that the Supervisor issued gets its latch
// back from the audit trail, so the Supervisor still lifts it.
import { modeAt, type KernelPolicy } from "../../kernel/policy.ts";
import type { HealthTransition } from "../nodes/node-model.ts";
import type { CommittedCursor, HubStore, NodeFederationEvent, StoredDecision, StoredLatch } from "../store/hub-store.ts";
import { FEDERATION_ROLE_RECORDS_KEPT } from "../store/hub-store.ts";
import type { EngineRestore, FederationEngine } from "./engine.ts";
import { retentionOf } from "./fleet-state.ts";
import type { FederationConfig } from "./config.ts";
import type { ConflictRecord, KeptDecision } from "./records.ts";
import { ROLE_NAMES, type RoleName } from "./role.ts";

/**
 * At most this much of the recorded events is folded in at start: an hour
 * covers every window of the default config but the Researcher's model
 * baseline (8 days), which starts partly filled. An hour of a 1,000-node
 * fleet is about 1.4 M events (performance.md has the time it takes).
 */
export const REBUILD_WINDOW_MAX_MS = 3_600_000;
const HOUR_MS = 3_600_000;
const PAGE = 5000;

/** A node as the hub's fleet view knows it at start. */
export interface KnownNode {
  nodeId: string;
  health: HealthTransition["to"];
  /** Its latest transitions, newest first. */
  transitions: readonly HealthTransition[];
}

export interface Rebuilt {
  /** The start of the window folded in (ms). */
  from: number;
  events: number;
  /** Where the events read end, in committed order: a tail of the registry's events goes on from here (event-tail.ts). */
  eventsCursor: CommittedCursor;
  /**
   * Events read with `at` after `now`, not folded: the engine handles them
   * once rebuilt. Only another replica's (its clock a little ahead) on a
   * shared registry; the cursor is past them.
   */
  later: NodeFederationEvent[];
  latches: number;
  /** The role decision records and conflicts kept, newest first (the API's lists start with them). */
  decisions: KeptDecision[];
  conflicts: ConflictRecord[];
}

/** How far back the events are folded in for this config. */
export function rebuildWindowMs(config: FederationConfig): number {
  const { nodeMs, modelMs, symbolMs } = retentionOf(config);
  const s = config.roles.supervisor;
  const fleetMs = Math.max(s.fleet_drawdown.lookback_s + s.fleet_drawdown.recovery_s, s.unhealthy_share.lookback_s + s.unhealthy_share.recovery_s) * 1000;
  return Math.min(REBUILD_WINDOW_MAX_MS, Math.max(nodeMs, modelMs, symbolMs, fleetMs));
}

/** `policyOf`: the policy in force for a target (the hub's desired policies). */
export async function rebuildEngine(engine: FederationEngine, store: HubStore, nodes: Iterable<KnownNode>, now: number, policyOf?: (target: string) => KernelPolicy): Promise<Rebuilt> {
  const config = engine.currentConfig;
  const from = now - rebuildWindowMs(config);

  for (const node of [...nodes].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1))) {
    const state = healthAt(node, from);
    if (state) engine.fold({ type: "node_health", node: node.nodeId, at: from, state });
  }
  let events = 0;
  let eventsCursor: CommittedCursor | undefined;
  const later: NodeFederationEvent[] = [];
  for (;;) {
    const page = await store.federationEvents.committed({ from, after: eventsCursor, limit: PAGE });
    for (const { event } of page.events) if (event.at <= now) engine.fold(event);
    else later.push(event);
    events += page.events.length;
    eventsCursor = page.cursor;
    if (page.events.length < PAGE) break;
  }

  const [latches, decisions, conflicts, overrides] = await Promise.all([
    store.federationRoles.latches(),
    store.federationRoles.decisions({ limit: FEDERATION_ROLE_RECORDS_KEPT }),
    store.federationRoles.conflicts({ limit: FEDERATION_ROLE_RECORDS_KEPT, since: now - HOUR_MS }),
    overridesSince(store, now - config.engine.override_suppression_s * 1000),
  ]);
  const fleetFrozen = policyOf !== undefined && modeAt(policyOf("fleet"), now) === "FREEZE";
  if (fleetFrozen && !latches.some((l) => l.rule === FLEET_FREEZE_LATCH && l.target === "fleet")) {
    const derived = await supervisorFreezeLatch(store);
    if (derived) latches.push(derived);
  }
  engine.restore({ latches, decisions: [...decisions].reverse(), conflicts: [...conflicts].reverse(), overrides, now });
  return { from, events, eventsCursor, later, latches: latches.length, decisions, conflicts };
}

const FLEET_FREEZE_LATCH = "supervisor/fleet_freeze";
const FLEET_FREEZE_CAUSES = new Set(["fleet_drawdown", "unhealthy_share"]);

/**
 * The Supervisor's fleet-freeze latch from the audit trail: the newest fleet
 * decision that froze, if the Supervisor made it (its rule names the causes)
 * and no OVERRIDE reversed it; held since it was issued.
 */
async function supervisorFreezeLatch(store: HubStore): Promise<StoredLatch | null> {
  const fleetDecisions = await store.decisions.addressedTo(["fleet"]);
  for (let i = fleetDecisions.length - 1; i >= 0; i--) {
    const { message, overriddenBy } = fleetDecisions[i]!;
    const freezes = message.type === "FREEZE" || (message.type === "MODE_CHANGE" && message.payload.mode === "FREEZE");
    if (!freezes || overriddenBy !== null) continue;
    const origin = (await store.decisions.get(message.id))?.origin;
    if (origin?.kind !== "role" || origin.role !== "supervisor") return null;
    const causes = origin.rule.split("+");
    if (!causes.every((cause) => FLEET_FREEZE_CAUSES.has(cause))) return null;
    return { rule: FLEET_FREEZE_LATCH, target: "fleet", latch: { level: 1, since: message.issuedAt, value: causes.sort() } };
  }
  return null;
}

/**
 * A node's health at `at`: the transition in force then; else (none that old
 * kept) where the oldest kept one started, or null if that was its
 * registration (its events are in the window); else (none kept) its health now.
 */
function healthAt(node: KnownNode, at: number): KnownNode["health"] | null {
  const before = node.transitions.find((t) => t.at <= at);
  if (before) return before.to;
  const oldest = node.transitions.at(-1);
  return oldest ? oldest.from : node.health;
}

/** The operators' OVERRIDEs issued since `since` of decisions a role made: newest first through the audit trail. */
async function overridesSince(store: HubStore, since: number): Promise<EngineRestore["overrides"][number][]> {
  const found: EngineRestore["overrides"][number][] = [];
  for (let beforeSeq: number | undefined; ; ) {
    const page: StoredDecision[] = await store.decisions.list({ limit: 200, beforeSeq });
    for (const { message } of page) {
      if (message.issuedAt < since) return found.reverse();
      if (message.type !== "OVERRIDE") continue;
      const overridden = await store.decisions.get(String(message.payload.overridden_decision_id));
      const origin = overridden?.origin;
      if (origin?.kind !== "role" || !(ROLE_NAMES as readonly string[]).includes(origin.role)) continue;
      found.push({ decision: { role: origin.role as RoleName, type: overridden!.message.type, target: overridden!.message.target }, at: message.issuedAt });
    }
    if (page.length < 200) return found.reverse();
    beforeSeq = page.at(-1)!.seq;
  }
}
