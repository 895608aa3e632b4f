// Alerts from node health transitions (hub/nodes/fleet.ts): node_offline
// (high) when a node that had been heard goes offline, node_back (low) when
// it comes back. A storm (a switch dies, a site loses power) must not be
// hundreds of alerts and posts: the first transition of a direction is
// raised at once, and those that follow within GROUP_MS are gathered into
// one nodes_offline or nodes_back alert at the end of that window, naming
// each node once and only those still in that state then (a node that
// flapped back meanwhile is not offline news); a storm that goes on gives
// one alert per window. A node is alerted back only after it was alerted
// offline, and offline not twice in a row.
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
  /** By node id, the latest transition of this direction. */
  nodes: Map<string, HealthTransition>;
  timer: ReturnType<typeof setTimeout>;
}

export class NodeHealthAlerts {
  private readonly windows = new Map<Direction, Window>();
  /** What was last alerted of each node. */
  private readonly lastAlerted = new Map<string, Direction>();

  constructor(
    private readonly alerts: Alerts,
    private readonly fleet: Fleet,
    private readonly clock: () => number,
    private readonly groupMs = GROUP_MS,
  ) {
    // A node offline (after being heard) when the hub starts was alerted then, or is news now it is back.
    for (const node of fleet.all()) if (node.health === "offline" && fleet.transitions(node.nodeId)[0]?.from) this.lastAlerted.set(node.nodeId, "offline");
  }

  /** Told of every federation event as the fleet records it (synchronously: the node's transitions are current). */
  readonly observe = (event: NodeFederationEvent): void => {
    if (event.type !== "node_health") return;
    const [transition] = this.fleet.transitions(event.node);
    if (!transition || transition.to !== event.state) return;
    if (transition.from === null) this.lastAlerted.delete(event.node); // registered (again, after a removal): a new node
    const direction = directionOf(transition);
    if (direction) this.noted(direction, event.node, transition);
  };

  stop(): void {
    for (const window of this.windows.values()) clearTimeout(window.timer);
    this.windows.clear();
  }

  private noted(direction: Direction, nodeId: string, transition: HealthTransition): void {
    const window = this.windows.get(direction);
    if (window) {
      window.nodes.delete(nodeId); // named in the order of its latest transition
      window.nodes.set(nodeId, transition);
      return;
    }
    if (!this.isNews(direction, nodeId)) return;
    this.raiseOne(direction, nodeId, transition);
    this.open(direction);
  }

  private open(direction: Direction): void {
    const timer = setTimeout(() => this.closed(direction), this.groupMs);
    timer.unref?.();
    this.windows.set(direction, { nodes: new Map(), timer });
  }

  private closed(direction: Direction): void {
    const window = this.windows.get(direction)!;
    this.windows.delete(direction);
    if (window.nodes.size === 0) return;
    const still = [...window.nodes].filter(([nodeId]) => this.stillIn(direction, nodeId) && this.isNews(direction, nodeId));
    if (still.length === 1) this.raiseOne(direction, still[0]![0], still[0]![1]);
    else if (still.length > 1) this.raiseGroup(direction, still.map(([nodeId]) => nodeId));
    this.open(direction); // still stormy: the next ones are gathered too
  }

  private isNews(direction: Direction, nodeId: string): boolean {
    return direction === "offline" ? this.lastAlerted.get(nodeId) !== "offline" : this.lastAlerted.get(nodeId) === "offline";
  }

  private stillIn(direction: Direction, nodeId: string): boolean {
    const health = this.fleet.get(nodeId)?.health;
    return health !== undefined && (health === "offline") === (direction === "offline");
  }

  private raiseOne(direction: Direction, nodeId: string, transition: HealthTransition): void {
    this.lastAlerted.set(nodeId, direction);
    const at = transition.at;
    if (direction === "offline") {
      this.alerts.raise({ severity: "high", kind: "node_offline", subject: nodeId, message: `node ${nodeId} is offline: ${transition.cause}`, at });
    } else {
      this.alerts.raise({ severity: "low", kind: "node_back", subject: nodeId, message: `node ${nodeId} is back (${transition.to}: ${transition.cause})`, at });
    }
  }

  private raiseGroup(direction: Direction, nodeIds: string[]): void {
    for (const nodeId of nodeIds) this.lastAlerted.set(nodeId, direction);
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

/** Offline: from any other state (a node just registered starts offline, from none). Back: out of offline. */
function directionOf(transition: HealthTransition): Direction | null {
  if (transition.to === "offline") return transition.from !== null && transition.from !== "offline" ? "offline" : null;
  return transition.from === "offline" ? "back" : null;
}
