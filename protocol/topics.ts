// The MQTT topics of protocol v1 (docs/protocol.md), one entry per topic kind in
// TOPICS. Everything that must agree about a topic is derived from that
// entry: the topic name, who publishes and who reads it (the agent's
// subscriptions, the broker ACLs of the embedded broker and of Mosquitto, the
// hub's subscription filters), its payload schema, its QoS and retain flag on
// every publish, whether a node may set the retain flag, and whether the agent
// sends it through its durable outbox (whose rows store the kind). Adding a
// topic: one entry here, one producer, one handler (the hub's ingest handler
// for node->hub kinds, the agent's for the others); the compiler asks for the
// handler.
import type { z } from "zod";
import { decodeHeartbeat } from "./heartbeat-guard.ts";
import {
  BirthMessage,
  CloseMessage,
  DecisionAckMessage,
  DecisionMessage,
  decodePayload,
  DesiredPolicyMessage,
  HeartbeatMessage,
  HubCaMessage,
  HubStateMessage,
  ModelPerformanceMessage,
  PortfolioMessage,
  StateMessage,
  SystemHealthMessage,
  VerdictEventMessage,
  type DecodeResult,
} from "./messages.ts";
import { isNodeId } from "./node-id.ts";
import { HubFeaturesMessage, ReceiptMessage } from "./receipts.ts";
import { REPORT_HISTORY } from "./reports.ts";
import { WorkOfferMessage, WorkProgressMessage, WorkResultMessage } from "./work-messages.ts";

export { isNodeId, NODE_ID_PATTERN } from "./node-id.ts";

export const ROOT = "edgefed/v1";

/**
 * - node->hub: an agent publishes it on `nodes/{its id}/{kind}`; the hub ingests it.
 * - hub->node: the hub publishes it on `nodes/{node}/{kind}`; only that node reads it.
 * - hub->fleet: the hub publishes it on `{kind}` under the root; every node reads it.
 */
export type Direction = "node->hub" | "hub->node" | "hub->fleet";

export interface Delivery {
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

interface TopicSpec {
  readonly direction: Direction;
  /** The payload's one definition (messages.ts). */
  readonly schema: z.ZodType;
  /** A faster decoder accepting exactly what the schema accepts (heartbeats: thousands a second at the hub). */
  readonly decode?: (payload: Buffer) => DecodeResult<unknown>;
  /**
   * QoS and retain flag of every publish. A node may set the retain flag
   * only where this does: a retained message is handed to every new
   * subscription as if it were new, which only a latest-value topic (state,
   * birth) can afford; a retained heartbeat would make a dead node look alive
   * after a hub restart.
   */
  readonly delivery: Delivery;
  /** node->hub only: whether the agent queues it in its durable outbox (false: published directly on each connect). */
  readonly viaOutbox?: boolean;
  /**
   * Via the outbox only: at most this many of the kind stay queued, the
   * oldest going first, for a kind whose newer messages supersede the older
   * ones (none: never dropped for its own sake; heartbeats still go first
   * when the outbox is over its bound).
   */
  readonly outboxCap?: number;
}

/** QoS 0, not retained: lost now and then, nobody minds (the hub counts seq gaps). */
const FIRE_AND_FORGET = { qos: 0, retain: false } as const;
/** QoS 1, not retained: an event, delivered at least once. */
const EVENT = { qos: 1, retain: false } as const;
/** QoS 1, retained: the latest value of something, handed to whoever subscribes later. */
const LATEST_VALUE = { qos: 1, retain: true } as const;

export const TOPICS = {
  /** `{state, bootId, ts}`; also the agent's last will (offline). */
  state: { direction: "node->hub", schema: StateMessage, delivery: LATEST_VALUE, viaOutbox: false },
  /** Identity, version, capabilities, session; on every (re)connect. */
  birth: { direction: "node->hub", schema: BirthMessage, delivery: LATEST_VALUE, viaOutbox: false },
  heartbeat: { direction: "node->hub", schema: HeartbeatMessage, decode: decodeHeartbeat, delivery: FIRE_AND_FORGET, viaOutbox: true },
  /** One event per judged intent, with the journal's per-node seq. */
  verdicts: { direction: "node->hub", schema: VerdictEventMessage, delivery: EVENT, viaOutbox: true },
  "cmd/ack": { direction: "node->hub", schema: DecisionAckMessage, delivery: EVENT, viaOutbox: true },
  /** One event per position close the strategy reported, with the journal's per-node close seq; never dropped. */
  closes: { direction: "node->hub", schema: CloseMessage, delivery: EVENT, viaOutbox: true },
  /**
   * The strategy's reports (reports.ts), each queued when reported and
   * replayed in order after an outage. A portfolio snapshot every few seconds
   * would fill the outbox over a long outage: of portfolio and health only
   * the newest the hub keeps stay queued. Model reports come after trades or
   * daily, no faster than verdicts, and are never dropped.
   */
  portfolio: { direction: "node->hub", schema: PortfolioMessage, delivery: EVENT, viaOutbox: true, outboxCap: REPORT_HISTORY.portfolio },
  health: { direction: "node->hub", schema: SystemHealthMessage, delivery: EVENT, viaOutbox: true, outboxCap: REPORT_HISTORY.health },
  models: { direction: "node->hub", schema: ModelPerformanceMessage, delivery: EVENT, viaOutbox: true },
  /** A work package's progress (renews its lease) and its result, fenced by attempt number (work-messages.ts). */
  "work/progress": { direction: "node->hub", schema: WorkProgressMessage, delivery: EVENT, viaOutbox: true },
  "work/result": { direction: "node->hub", schema: WorkResultMessage, delivery: EVENT, viaOutbox: true },
  /** The outbox ids of this node's events the hub committed (receipts.ts); the node forgets those. */
  receipts: { direction: "hub->node", schema: ReceiptMessage, delivery: FIRE_AND_FORGET },
  /** A signed decision. */
  cmd: { direction: "hub->node", schema: DecisionMessage, delivery: EVENT },
  /** A work package leased to this node (attempt n, lease_s). */
  "work/offer": { direction: "hub->node", schema: WorkOfferMessage, delivery: EVENT },
  /** The node's signed desired policy. */
  policy: { direction: "hub->node", schema: DesiredPolicyMessage, delivery: LATEST_VALUE },
  "fleet/policy": { direction: "hub->fleet", schema: DesiredPolicyMessage, delivery: LATEST_VALUE },
  /** `{state, ts}`; also the hub's last will (offline). Agents go into simulation mode while it says offline. */
  "hub/state": { direction: "hub->fleet", schema: HubStateMessage, delivery: LATEST_VALUE },
  /** What the hub takes beyond v1's first version (receipts.ts): `{receipts?, ts}`, read leniently. */
  "hub/features": { direction: "hub->fleet", schema: HubFeaturesMessage, delivery: LATEST_VALUE },
  /** A new hub CA, signed by the hub's key (a deliberate operator act, POST /api/federation/tls/ca); retained until replaced. */
  "hub/ca": { direction: "hub->fleet", schema: HubCaMessage, delivery: LATEST_VALUE },
} as const satisfies Record<string, TopicSpec>;

type Topics = typeof TOPICS;
export type TopicKind = keyof Topics;
type KindsGoing<D extends Direction> = { [K in TopicKind]: Topics[K]["direction"] extends D ? K : never }[TopicKind];
/** What agents send (the hub's ingest has one handler for each). */
export type NodeToHubKind = KindsGoing<"node->hub">;
export type HubToNodeKind = KindsGoing<"hub->node">;
export type FleetKind = KindsGoing<"hub->fleet">;
/** Kinds under `nodes/{node}/`. */
export type NodeTopicKind = NodeToHubKind | HubToNodeKind;
/** What a node reads (the agent has one handler for each). */
export type NodeInboundKind = HubToNodeKind | FleetKind;
/** What the agent sends through its outbox; the outbox stores this kind with each message. */
export type OutboxKind = { [K in NodeToHubKind]: Topics[K]["viaOutbox"] extends true ? K : never }[NodeToHubKind];
/** The decoded payload of a kind. */
export type MessageOf<K extends TopicKind> = z.infer<Topics[K]["schema"]>;

const ALL_KINDS = Object.keys(TOPICS) as TopicKind[];
const going = <D extends Direction>(direction: D) => ALL_KINDS.filter((kind): kind is KindsGoing<D> => TOPICS[kind].direction === direction);
export const NODE_TO_HUB_KINDS: readonly NodeToHubKind[] = going("node->hub");
export const HUB_TO_NODE_KINDS: readonly HubToNodeKind[] = going("hub->node");
export const FLEET_KINDS: readonly FleetKind[] = going("hub->fleet");
export const NODE_TOPIC_KINDS: readonly NodeTopicKind[] = [...NODE_TO_HUB_KINDS, ...HUB_TO_NODE_KINDS];
export const OUTBOX_KINDS: readonly OutboxKind[] = NODE_TO_HUB_KINDS.filter((kind): kind is OutboxKind => TOPICS[kind].viaOutbox);

export function isNodeToHubKind(kind: TopicKind): kind is NodeToHubKind {
  return TOPICS[kind].direction === "node->hub";
}

/** The QoS and retain flag every publish of `kind` uses. */
export function deliveryOf(kind: TopicKind): Delivery {
  return TOPICS[kind].delivery;
}

/** How many messages of `kind` the outbox keeps queued at most, or null for no cap of its own. */
export function outboxCap(kind: OutboxKind): number | null {
  const spec: TopicSpec = TOPICS[kind];
  return spec.outboxCap ?? null;
}

/**
 * Whether the hub answers `kind` with a receipt (receipts.ts): the events a
 * node sends through its outbox, QoS 1 and not retained. Heartbeats (QoS 0,
 * replaced by the next) are forgotten once sent.
 */
export function isReceipted(kind: TopicKind): boolean {
  const spec: TopicSpec = TOPICS[kind];
  return spec.viaOutbox === true && spec.delivery.qos === 1 && !spec.delivery.retain;
}

/** Whether a publish of `kind` may carry the retain flag (the embedded broker refuses, and the hub's ingest ignores, the others retained). */
export function retainAllowed(kind: TopicKind): boolean {
  return TOPICS[kind].delivery.retain;
}

/** Size limit, JSON and schema of a payload of `kind`; never throws. A receipted kind's `ob` comes back beside the value. */
export function decodeTopic<K extends TopicKind>(kind: K, payload: Buffer): DecodeResult<MessageOf<K>> {
  const spec: TopicSpec = TOPICS[kind];
  // The cast is safe: a decode override accepts exactly what the schema does (heartbeat-guard.test.ts).
  const decoded = spec.decode ? spec.decode(payload) : decodePayload(spec.schema, payload, { outboxRef: isReceipted(kind) });
  return decoded as DecodeResult<MessageOf<K>>;
}

export function nodeTopic(node: string, kind: NodeTopicKind): string {
  if (!isNodeId(node)) throw new Error(`not a node id: ${JSON.stringify(node)}`);
  return `${ROOT}/nodes/${node}/${kind}`;
}

/** The one topic of a hub->fleet kind. */
export function fleetTopic(kind: FleetKind): string {
  return `${ROOT}/${kind}`;
}

export const HUB_STATE_TOPIC = fleetTopic("hub/state");
export const FLEET_POLICY_TOPIC = fleetTopic("fleet/policy");
export const HUB_CA_TOPIC = fleetTopic("hub/ca");
export const HUB_FEATURES_TOPIC = fleetTopic("hub/features");

/** `kind` of every node: the hub's subscription filter for it. */
export function everyNodeFilter(kind: NodeTopicKind): string {
  return `${ROOT}/nodes/+/${kind}`;
}

/**
 * The MQTT 5 shared-subscription group of the hub's replicas (issue 16): a
 * message matching `$share/edgefed-hub/<filter>` goes to one subscriber of
 * the group, so with several hubs each node message reaches one replica.
 */
export const HUB_SHARE_GROUP = "edgefed-hub";

/** `filter` subscribed through the hubs' shared group. */
export function hubSharedFilter(filter: string): string {
  return `$share/${HUB_SHARE_GROUP}/${filter}`;
}

/**
 * Where a hub session ending itself (a replica's clean stop, or the leader
 * taking over a gone replica's session) publishes a marker to itself: the
 * broker delivers a session's messages in order, so once the marker arrives
 * everything the session held before it has too. Under the hub's own ACLs
 * (ROOT/#), never a node's.
 */
export function hubSessionMarkerTopic(clientId: string): string {
  return `${ROOT}/hubs/${encodeURIComponent(clientId)}/session-drained`;
}

/** The subtree a node may publish under (for broker ACLs). */
export function nodeSubtree(node: string): string {
  if (!isNodeId(node)) throw new Error(`not a node id: ${JSON.stringify(node)}`);
  return `${ROOT}/nodes/${node}/#`;
}

/** Exact topics a node publishes: its own node->hub kinds. */
export function nodePublishTopics(node: string): string[] {
  return NODE_TO_HUB_KINDS.map((kind) => nodeTopic(node, kind));
}

/** Exact topics a node reads, with their kind: its own hub->node kinds and every hub->fleet kind. */
export function nodeSubscriptions(node: string): { topic: string; kind: NodeInboundKind }[] {
  return [
    ...HUB_TO_NODE_KINDS.map((kind) => ({ topic: nodeTopic(node, kind), kind })),
    ...FLEET_KINDS.map((kind) => ({ topic: fleetTopic(kind), kind })),
  ];
}

/** `{node, kind}` for a node topic, or null for anything else (other roots, bad ids, unknown kinds). */
export function parseNodeTopic(topic: string): { node: string; kind: NodeTopicKind } | null {
  const prefix = `${ROOT}/nodes/`;
  if (!topic.startsWith(prefix)) return null;
  const rest = topic.slice(prefix.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return null;
  const node = rest.slice(0, slash);
  // The table's own string, not the slice: the hub looks kinds up by key, which is faster with it.
  const kind = NODE_TOPIC_KINDS[NODE_TOPIC_KINDS.indexOf(rest.slice(slash + 1) as NodeTopicKind)];
  if (!isNodeId(node) || kind === undefined) return null;
  return { node, kind };
}
