// What a hub replica keeps in memory, kept in step with what the other
// replicas change in the shared registry (issue 16), through the change feed
// (change-feed.ts):
// - node:<id>: the node is read from the registry and adopted (registered or
//   re-registered elsewhere, with its live row) or dropped (removed
//   elsewhere, its desired policy with it);
// - policy:<target>: the desired policies are read again (policyInForce,
//   the retained policies on the next reconnect);
// - decision:<id>: issued or acknowledged elsewhere: the decision's change
//   listeners hear of it (the dashboard's live stream);
// - after the listening connection reconnects: all of it is read again (and
//   hub.ts has the live stream told of the latest decisions again).
// A node message from an id not in memory may beat the notification of its
// registration: the node is looked up in the registry once before the
// message goes on. If it is not there ingest drops it as unknown, and the
// broker still gets its PUBACK: the message is acknowledged and lost (so is
// one whose lookup failed, or that came over the lookup cap). Ids found
// unknown are remembered for a while and few lookups run at once, so a flood
// of unknown ids cannot turn into a flood of queries.
import { parseNodeTopic } from "../../protocol/topics.ts";
import type { Decisions } from "../decisions/decisions.ts";
import type { NodeMessageHandler } from "../mqtt/commit-before-ack.ts";
import type { Fleet } from "../nodes/fleet.ts";
import type { NodeRecord } from "../nodes/node-model.ts";
import type { HubStore } from "../store/hub-store.ts";
import type { ChangeFeed } from "./change-feed.ts";

/** How long an id found unregistered stays so without another lookup (a registration elsewhere is heard on the feed at once). */
export const UNKNOWN_NODE_TTL_MS = 60_000;
/** At most this many ids are remembered unknown (the oldest go first). */
export const UNKNOWN_NODES_KEPT = 10_000;
/** At most this many lookups of unknown ids at once; messages of further unknown ids are dropped as unknown without one. */
export const CONCURRENT_LOOKUPS = 8;

export class ReplicaSync {
  /** Per node id, the refresh from the registry in progress (refreshes of one id run in turn). */
  private readonly refreshing = new Map<string, Promise<void>>();
  /** Ids found unregistered, with when that stops counting; in insertion order (oldest first). */
  private readonly unknownUntil = new Map<string, number>();
  /** Lookups started by a message of an unknown id, in progress. */
  private lookups = 0;
  /** The next reload of the desired policies not yet started, shared by every notification until it starts. */
  private policyReload: Promise<void> | null = null;
  private policyReloads: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: HubStore,
    private readonly fleet: Fleet,
    private readonly decisions: Pick<Decisions, "forgotten" | "tookUp">,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Takes every kind of change the feed hears. */
  static listen(feed: ChangeFeed, store: HubStore, fleet: Fleet, decisions: Decisions): ReplicaSync {
    const sync = new ReplicaSync(store, fleet, decisions);
    feed.on("node", (nodeId) => sync.refreshNode(nodeId));
    feed.on("policy", () => sync.reloadPolicies());
    feed.on("decision", (decisionId) => decisions.changed(decisionId));
    feed.onReconnect(() => sync.reloadAll());
    feed.ready();
    return sync;
  }

  /** Reads one node from the registry: adopted if registered, dropped if not. */
  refreshNode(nodeId: string): Promise<void> {
    const refresh = (this.refreshing.get(nodeId) ?? Promise.resolve())
      .then(async () => {
        const stored = await this.store.nodes.get(nodeId);
        if (stored) {
          this.unknownUntil.delete(nodeId);
          this.adopt(stored);
        } else if (this.fleet.get(nodeId)) {
          this.decisions.forgotten(nodeId);
          this.fleet.remove(nodeId);
        }
      })
      .finally(() => {
        if (this.refreshing.get(nodeId) === refresh) this.refreshing.delete(nodeId);
      });
    this.refreshing.set(nodeId, refresh);
    return refresh;
  }

  /** Reads the desired policies again; notifications that come while one read waits to start share it. */
  reloadPolicies(): Promise<void> {
    this.policyReload ??= this.policyReloads.then(async () => {
      this.policyReload = null;
      this.decisions.tookUp(await this.store.decisions.policies());
    });
    this.policyReloads = this.policyReload.catch(() => {});
    return this.policyReload;
  }

  /** After the feed missed notifications: every node and every desired policy again. */
  async reloadAll(): Promise<void> {
    const stored = await this.store.nodes.all();
    const registered = new Set(stored.map((node) => node.nodeId));
    for (const node of stored) this.adopt(node);
    for (const node of [...this.fleet.all()]) {
      if (registered.has(node.nodeId)) continue;
      this.decisions.forgotten(node.nodeId);
      this.fleet.remove(node.nodeId);
    }
    this.unknownUntil.clear();
    await this.reloadPolicies();
  }

  /** A node new to this replica, or registered again since it took it up (new credentials). */
  private adopt(stored: NodeRecord): void {
    if (this.fleet.get(stored.nodeId)?.credentialsAt === stored.credentialsAt) return;
    this.fleet.adopt(stored);
  }

  /**
   * `handle` with a message of a node not in memory held until the node is
   * looked up in the registry (once; ids found unknown are remembered). Later
   * messages of that node wait behind the lookup, so they keep their order.
   */
  knownNodesFirst(handle: NodeMessageHandler): NodeMessageHandler {
    return (topic, payload, retained) => {
      const nodeId = parseNodeTopic(topic)?.node;
      if (nodeId === undefined || this.fleet.get(nodeId)) return handle(topic, payload, retained);
      const pending = this.refreshing.get(nodeId);
      if (pending) return pending.then(() => handle(topic, payload, retained));
      if (this.knownUnknown(nodeId) || this.lookups >= CONCURRENT_LOOKUPS) return handle(topic, payload, retained);
      this.lookups++;
      const lookup = this.refreshNode(nodeId)
        .catch(() => {}) // the registry did not answer: ingest drops the message as from an unknown node
        .finally(() => {
          this.lookups--;
          if (!this.fleet.get(nodeId)) this.rememberUnknown(nodeId);
        });
      return lookup.then(() => handle(topic, payload, retained));
    };
  }

  private knownUnknown(nodeId: string): boolean {
    const until = this.unknownUntil.get(nodeId);
    if (until === undefined) return false;
    if (until > this.clock()) return true;
    this.unknownUntil.delete(nodeId);
    return false;
  }

  private rememberUnknown(nodeId: string): void {
    this.unknownUntil.delete(nodeId); // to the end of the order
    this.unknownUntil.set(nodeId, this.clock() + UNKNOWN_NODE_TTL_MS);
    if (this.unknownUntil.size > UNKNOWN_NODES_KEPT) this.unknownUntil.delete(this.unknownUntil.keys().next().value!);
  }
}
