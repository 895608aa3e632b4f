// Alerts from node health transitions (hub/nodes/fleet.ts): node_offline
// (high) when a node that had been heard goes offline, node_back (low) when
// it comes back. A storm (a switch dies, a site loses power) must not be
// hundreds of alerts and posts: the first transition of a direction is
// raised at once, and those that follow within GROUP_MS are gathered into
// one nodes_offline or nodes_back alert at the end of that window; a storm
// that goes on gives one alert per window.
import type { Alerts } from "../alerts.ts";
import type { Fleet } from "../nodes/fleet.ts";
import type { HealthTransition } from "../nodes/node-model.ts";
import type { NodeFederationEvent } from "../store/hub-store.ts";

/** How long the transitions after a first one are gathered into one alert. */
export const GROUP_MS = 30_000;
/** Node ids named in a grouped alert's message; the rest are counted. */
const NAMED_IN_GROUP = 20;

type Direction = "offline" | "back";

interface Window {
  nodes: { nodeId: string; transition: HealthTransition }[];
  timer: ReturnType<typeof setTimeout>;
}

export class NodeHealthAlerts {
  private readonly windows = new Map<Direction, Window>();

  constructor(
    private readonly alerts: Alerts,
    private readonly fleet: Fleet,
    private readonly clock: () => number,
    private readonly groupMs = GROUP_MS,
  ) {}

  /** Told of every federation event as the fleet records it (synchronously: the node's transitions are current). */
  readonly observe = (event: NodeFederationEvent): void => {
    if (event.type !== "node_health") return;
    const [transition, before] = this.fleet.transitions(event.node);
    if (!transition || transition.to !== event.state) return;
    const direction = directionOf(transition, before);
    if (direction) this.noted(direction, event.node, transition);
  };

  stop(): void {
    for (const window of this.windows.values()) clearTimeout(window.timer);
    this.windows.clear();
  }

  private noted(direction: Direction, nodeId: string, transition: HealthTransition): void {
    const window = this.windows.get(direction);
    if (window) {
      window.nodes.push({ nodeId, transition });
      return;
    }
    this.raiseOne(direction, nodeId, transition);
    this.open(direction);
  }

  private open(direction: Direction): void {
    const timer = setTimeout(() => this.closed(direction), this.groupMs);
    timer.unref?.();
    this.windows.set(direction, { nodes: [], timer });
  }

  private closed(direction: Direction): void {
    const window = this.windows.get(direction)!;
    this.windows.delete(direction);
    const { nodes } = window;
    if (nodes.length === 0) return;
    if (nodes.length === 1) this.raiseOne(direction, nodes[0]!.nodeId, nodes[0]!.transition);
    else this.raiseGroup(direction, nodes.map((n) => n.nodeId));
    this.open(direction); // still stormy: the next ones are gathered too
  }

  private raiseOne(direction: Direction, nodeId: string, transition: HealthTransition): void {
    const at = transition.at;
    if (direction === "offline") {
      this.alerts.raise({ severity: "high", kind: "node_offline", subject: nodeId, message: `node ${nodeId} is offline: ${transition.cause}`, at });
    } else {
      this.alerts.raise({ severity: "low", kind: "node_back", subject: nodeId, message: `node ${nodeId} is back (${transition.to}: ${transition.cause})`, at });
    }
  }

  private raiseGroup(direction: Direction, nodeIds: string[]): void {
    const named = nodeIds.slice(0, NAMED_IN_GROUP).join(", ");
    const more = nodeIds.length > NAMED_IN_GROUP ? ` and ${nodeIds.length - NAMED_IN_GROUP} more` : "";
    const within = `within ${this.groupMs / 1000} s`;
    if (direction === "offline") {
      this.alerts.raise({ severity: "high", kind: "nodes_offline", subject: "fleet", message: `${nodeIds.length} more nodes went offline ${within}: ${named}${more}`, at: this.clock() });
    } else {
      this.alerts.raise({ severity: "low", kind: "nodes_back", subject: "fleet", message: `${nodeIds.length} more nodes came back ${within}: ${named}${more}`, at: this.clock() });
    }
  }
}

/**
 * Offline: from any other state (a node just registered starts offline, from
 * none, and is not alerted). Back: out of an offline that was not that start.
 */
function directionOf(transition: HealthTransition, before: HealthTransition | undefined): Direction | null {
  if (transition.to === "offline") return transition.from !== null && transition.from !== "offline" ? "offline" : null;
  if (transition.from !== "offline") return null;
  return before?.from === null ? null : "back";
}
