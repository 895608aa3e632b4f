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
// message goes on. Only a lookup that answered "not registered" lets ingest
// drop it as from an unknown node (and so lets the broker have its PUBACK);
// a lookup that failed fails the message: not acknowledged, the broker sends
// it again. Ids found unknown are remembered for a while and few lookups run
// at once (the others wait their turn), so a flood of unknown ids cannot turn
// into a flood of queries.
import pLimit from "p-limit";
import { deliveryOf, parseNodeTopic } from "../../protocol/topics.ts";
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
/** At most this many lookups of unknown ids at once; lookups of further ids wait for one to finish. */
export const CONCURRENT_LOOKUPS = 8;

export class ReplicaSync {
  /** Per node id, the refresh from the registry in progress (refreshes of one id run in turn). */
  private readonly refreshing = new Map<string, Promise<void>>();
  /** Ids found unregistered, with when that stops counting; in insertion order (oldest first). */
  private readonly unknownUntil = new Map<string, number>();
  /** Per node id, the lookup a message of an id not in memory started (waiting its turn or running); its later messages wait for it too. */
  private readonly lookups = new Map<string, Promise<void>>();
  /** Runs lookups CONCURRENT_LOOKUPS at a time. */
  private readonly lookupTurns = pLimit(CONCURRENT_LOOKUPS);
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
    const read = async () => {
      const stored = await this.store.nodes.get(nodeId);
      if (stored) {
        this.unknownUntil.delete(nodeId);
        this.adopt(stored);
      } else if (this.fleet.get(nodeId)) this.drop(nodeId);
    };
    // After the one before it, whether that one answered or failed.
    const refresh = (this.refreshing.get(nodeId) ?? Promise.resolve())
      .then(read, read)
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
      if (!registered.has(node.nodeId)) this.drop(node.nodeId);
    }
    this.unknownUntil.clear();
    await this.reloadPolicies();
  }

  /** A node removed elsewhere: out of memory, its desired policy with it. */
  private drop(nodeId: string): void {
    this.decisions.forgotten(nodeId);
    this.fleet.remove(nodeId);
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
   * If the lookup fails, so does the message (no PUBACK: it comes again).
   */
  knownNodesFirst(handle: NodeMessageHandler): NodeMessageHandler {
    const route: NodeMessageHandler = (topic, payload, retained) => {
      const parsed = parseNodeTopic(topic);
      if (parsed === null || this.fleet.get(parsed.node) || this.knownUnknown(parsed.node)) return handle(topic, payload, retained);
      // A refresh the feed started may fail: the message then looks the node up itself.
      const refresh = this.refreshing.get(parsed.node);
      if (refresh) return refresh.then(() => route(topic, payload, retained), () => route(topic, payload, retained));
      const handled = this.lookUp(parsed.node).then(() => handle(topic, payload, retained));
      // A QoS 0 message (a heartbeat) is never sent again, and nobody waits on its promise: it is lost with the lookup.
      return deliveryOf(parsed.kind).qos === 0 ? handled.catch(() => undefined) : handled;
    };
    return route;
  }

  /** Looks an id not in memory up once, in its turn; remembers it unknown if the registry says it is not registered. */
  private lookUp(nodeId: string): Promise<void> {
    const running = this.lookups.get(nodeId);
    if (running) return running;
    const lookup = this.lookupTurns(async () => {
      if (this.fleet.get(nodeId)) return; // heard on the feed while waiting its turn
      await this.refreshNode(nodeId);
      if (!this.fleet.get(nodeId)) this.rememberUnknown(nodeId);
    }).finally(() => this.lookups.delete(nodeId));
    this.lookups.set(nodeId, lookup);
    return lookup;
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
