// The hub's registry as every caller sees it: nodes and their health
// transitions, enrollment tokens, tombstones of removed nodes, the decisions
// audit trail with acks and desired policies, the history of what each node's
// strategy reported, the federation events the hub observed (the roles'
// input stream), what the federation roles decided and where their rules
// stand, the alerts raised with the webhook's outbox, the dashboard's login
// sessions and each node's 1-minute metric buckets, the operators (named
// admin and viewer tokens, by scrypt verifier) and the hash-chained audit
// trail of who did what, and the hub's own values (key pair, token hashes).
// A backend implements HubStore; callers never see SQL.
//
// Every method returns a promise, because a networked backend (PostgreSQL,
// store/postgres/) answers over a socket; the SQLite backend answers at once.
// Reads run anywhere. Writes run only inside write(): one transaction that
// resolves once committed (durable), and leaves nothing behind if its work
// throws. The hub serialises what must not interleave (registration and
// removal per node id, decisions one at a time) before it writes. SQLite,
// with one writer, needs nothing more; PostgreSQL, which several hubs may
// share, also takes transaction advisory locks where order matters across
// hubs (decision seq, one node id's registration and removal, audit appends).
import type { FederationEvent } from "../../protocol/federation-events.ts";
import type { DecisionMessage, DesiredPolicyMessage } from "../../protocol/messages.ts";
import type { Report, ReportKind } from "../../protocol/reports.ts";
import type { AlertSeverity } from "../alerts.ts";
import type { DecisionOrigin } from "../decisions/decision-origin.ts";
import type { RoleMode } from "../federation/config.ts";
import type { ConflictRecord, KeptDecision, LatchChange } from "../federation/records.ts";
import type { HealthState, HealthTransition, NodeRecord } from "../nodes/node-model.ts";
import type { NewWorkPackage, TransitionOutcome, WorkAttempt, WorkChange, WorkEvent, WorkListQuery, WorkPackage, WorkState } from "../work/work-model.ts";

/**
 * Health transitions kept per node; older ones are deleted as new ones come.
 * The API shows the latest 20; 100 keeps five times that for an operator
 * looking into a flapping node, bounded at about 10 KB a node.
 */
export const TRANSITIONS_KEPT_PER_NODE = 100;

export interface NodeReads {
  get(nodeId: string): Promise<NodeRecord | undefined>;
  /** Every node, by id. */
  all(): Promise<NodeRecord[]>;
  /** The ids among `nodeIds` that are registered. */
  existing(nodeIds: readonly string[]): Promise<Set<string>>;
  /** Each node's latest `limit` transitions, newest first (nodes without any are left out). */
  latestTransitions(limit: number): Promise<Map<string, HealthTransition[]>>;
  /** Every node's stored health and when it was last heard from (the health sweep of several replicas): narrow, no live JSON. */
  recency(): Promise<NodeRecency[]>;
}

/** What the health sweep of several replicas reads of a node: its stored health, and when it was last heard from (plain columns, no JSON). */
export interface NodeRecency {
  nodeId: string;
  health: HealthState;
  healthSince: number;
  healthCause: string;
  /** heardAtOf (hub/nodes/health.ts) of its stored live view; null: never heard from. */
  heardAt: number | null;
}

/** A verdict event's or a close's number, or a strategy report's series and ts, as a replica heard it (hub/nodes/ordered-write.ts). */
export interface NodeSequence {
  nodeId: string;
  kind: SequenceKind;
  seq: number;
  /** When the hub heard it (ms): records older than the window are pruned. */
  at: number;
}

/** What a node_sequences row numbers: a verdict, a close, or a report series (`report:<kind>`, a model's `report:models:<model name>`, whose seq is the report's ts). */
export type SequenceKind = "verdict" | "close" | `report:${string}`;

/**
 * How long each verdict's and close's number and each report's series and ts
 * are kept in node_sequences (shared registry). Once pruned, a seq at or
 * under the highest pruned one of its node and kind (node_sequence_floors)
 * counts as a redelivery.
 */
export const SEQUENCES_KEPT_MS = 24 * 3_600_000;

export interface NodeWrites extends NodeReads {
  /** Inserts a node; for a known id updates only what re-registration changes (capabilities, arch, version, endpoint, password, credentialsAt, proofTs). */
  save(node: NodeRecord): Promise<void>;
  /** Writes each node's health and live view (and when it was last heard from, heardAtOf), and what births change (version, arch, capabilities); ids not registered are skipped. */
  saveLive(nodes: readonly NodeRecord[]): Promise<void>;
  /** Appends transitions (oldest first), then keeps the newest TRANSITIONS_KEPT_PER_NODE of each node; ids not registered are skipped. */
  addTransitions(transitions: readonly { nodeId: string; transition: HealthTransition }[]): Promise<void>;
  /**
   * Reads these nodes' rows to merge a replica's changes into, locking them
   * until the transaction ends (PostgreSQL: FOR UPDATE in node id order, so
   * two replicas locking overlapping sets never deadlock); by node id, ids
   * not registered left out.
   */
  lockForMerge(nodeIds: readonly string[]): Promise<NodeRecord[]>;
  /**
   * Records each (node, kind, seq) not recorded yet and above the node's
   * floor for the kind; returns those recorded now (each once, in the order
   * given). Ids not registered are skipped. What is not returned was heard
   * before: a redelivery.
   */
  recordSequences(entries: readonly NodeSequence[]): Promise<NodeSequence[]>;
  /** Forgets the sequences recorded before `before`, raising each node's floor to the highest forgotten; returns how many went. */
  pruneSequences(before: number): Promise<number>;
  /** Deletes a node with its transitions, its reports, its federation events and its metric buckets and sequences; false if there was none. */
  delete(nodeId: string): Promise<boolean>;
}

/** An enrollment token as stored: its hash only (hub/identity/enrollment-tokens.ts makes and hashes tokens). */
export interface EnrollmentTokenRecord {
  hash: string;
  label: string;
  /** null: unlimited. */
  usesLeft: number | null;
  /** ms since the epoch; null: never. */
  expiresAt: number | null;
  createdAt: number;
  /** Who made it: an operator's name, "admin" (the env token) or "cli:<user>" (`token create`). */
  createdBy: string;
}

export interface TokenInfo {
  label: string;
  usesLeft: number | null;
  expiresAt: number | null;
  /** Registrations made with it, re-registrations included. */
  registrations: number;
}

export interface TokenReads {
  /** The token's state if it may still enrol a new node (a use left, not expired), else undefined. */
  valid(hash: string, now: number): Promise<TokenInfo | undefined>;
  /** Whether it exists and has not expired, used up or not (re-registration needs no use). */
  known(hash: string, now: number): Promise<boolean>;
  /** Every token, newest first, at most `limit`. */
  list(limit: number): Promise<ListedToken[]>;
}

export interface TokenWrites extends TokenReads {
  add(token: EnrollmentTokenRecord): Promise<void>;
  /** Spends one use and counts the registration; false (and nothing spent) if none is left or it expired. */
  spendUse(hash: string, now: number): Promise<boolean>;
  /** Counts a re-registration without spending a use (also on a used-up token). */
  countReuse(hash: string): Promise<void>;
  /** Gives back a use spent by a registration that then failed. */
  refundUse(hash: string): Promise<void>;
  /** Revokes the token whose hash starts with `id` (TOKEN_ID_LENGTH hex): it enrols and re-registers nothing from `at` on; false if none (or already revoked). */
  revoke(id: string, at: number): Promise<boolean>;
}

/** How many hex characters of a token's hash name it in the API: not secret, unique enough (48 bits). */
export const TOKEN_ID_LENGTH = 12;

/** A token as listed: never the token nor its whole hash. */
export interface ListedToken extends TokenInfo {
  /** The first TOKEN_ID_LENGTH hex of its hash. */
  id: string;
  createdAt: number;
  createdBy: string;
  /** null: not revoked. */
  revokedAt: number | null;
}

/**
 * What a removed node leaves: registration refuses the id while the removal
 * stands; an operator's readmission lifts it (the row stays until the node
 * registers again).
 */
export interface Tombstone {
  nodeId: string;
  removedAt: number;
  /** The key the node was registered with when it was removed. */
  publicKey: string;
  /** null: the removal stands; else when an operator readmitted the id. */
  readmittedAt: number | null;
}

export interface TombstoneReads {
  get(nodeId: string): Promise<Tombstone | undefined>;
  /** The tombstone if the removal stands (not readmitted). */
  standing(nodeId: string): Promise<Tombstone | undefined>;
  /** Removals that stand. */
  count(): Promise<number>;
}

export interface TombstoneWrites extends TombstoneReads {
  /** Records, renews or puts back a tombstone. */
  put(tombstone: Tombstone): Promise<void>;
  /** Lifts a standing removal; false if the id has none. */
  readmit(nodeId: string, at: number): Promise<boolean>;
  /** Forgets the tombstone (the readmitted node registered); false if there was none. */
  delete(nodeId: string): Promise<boolean>;
}

export interface DecisionAck {
  nodeId: string;
  ok: boolean;
  error: string | null;
  appliedAt: number;
  receivedAt: number;
  /** What a RESEARCH_TASK found on the node; null for every other ack. */
  result: Record<string, unknown> | null;
}

export interface StoredDecision {
  seq: number;
  /** The signed decision exactly as published. */
  message: DecisionMessage;
  /** Who made it: an operator, or a federation role with its rule, inputs and thresholds. */
  origin: DecisionOrigin;
  /** The node ids it was sent to. */
  targets: string[];
  /** Acknowledgements (and removal closings), by node id. */
  acks: DecisionAck[];
  /** The id of the OVERRIDE that reversed this decision's policy effect; null while it stands. */
  overriddenBy: string | null;
}

/** A decision as the fold of the desired policies needs it (and who made it, for the policy's field origins): no acks. */
export type DecisionHistoryEntry = Pick<StoredDecision, "seq" | "message" | "origin" | "overriddenBy">;

/**
 * A decision without its targets and acks, counted instead: what a list of
 * fleet decisions at 10,000 nodes can carry (the targets are paged by
 * DecisionReads.targets).
 */
export interface DecisionSummary extends Omit<StoredDecision, "targets" | "acks"> {
  targetCount: number;
  /** Acks with ok true, and those with ok false (refusals and removal closings). */
  ackedOk: number;
  ackedError: number;
  /** Targets that have not acknowledged. */
  pendingCount: number;
  /** The first of those by node id, at most the `pendingShown` asked for. */
  pendingFirst: string[];
  /** With `node`: that node's ack, or null while it has none. */
  nodeAck?: DecisionAck | null;
}

/** One target of a decision, with its ack or null while pending. */
export interface DecisionTarget {
  nodeId: string;
  ack: DecisionAck | null;
}

/** Which targets of a decision to page through: those still waited for, those that acknowledged, or all. */
export type DecisionTargetState = "pending" | "acked" | "all";

/**
 * Decisions a target has not acknowledged (nor been closed for by its
 * removal), counted by type, by who made them ("operator" or the role's
 * name) and by whether they expired; what /metrics says of them.
 */
export interface OutstandingDecisions {
  type: string;
  origin: string;
  expired: boolean;
  count: number;
  /** The oldest one's issuedAt. */
  oldestIssuedAt: number;
}

export interface DecisionReads {
  get(id: string): Promise<StoredDecision | undefined>;
  /** Newest first, below `beforeSeq`; `node` keeps those sent to that node. */
  list(options: { limit: number; beforeSeq?: number; node?: string }): Promise<StoredDecision[]>;
  /** As list(), counted instead of listed (DecisionSummary), with at most `pendingShown` pending ids each; `types` keeps those of these types. */
  summaries(options: { limit: number; beforeSeq?: number; node?: string; types?: readonly string[]; pendingShown: number }): Promise<DecisionSummary[]>;
  /**
   * A page of one decision's targets in node id order, after `afterNodeId`,
   * at most `limit`, kept to `state`; undefined when there is no such decision.
   */
  targets(decisionId: string, options: { state: DecisionTargetState; limit: number; afterNodeId?: string }): Promise<DecisionTarget[] | undefined>;
  /**
   * Every decision addressed to one of `targets` ("fleet" or node ids), oldest
   * first: the history the desired policies are folded from again when an
   * OVERRIDE takes one of them out.
   */
  addressedTo(targets: readonly string[]): Promise<DecisionHistoryEntry[]>;
  /** Unexpired decisions sent to a node that it has not acknowledged, oldest first. */
  pendingFor(nodeId: string, now: number): Promise<DecisionMessage[]>;
  /**
   * Decisions after `afterSeq` issued at or before `issuedBefore`, oldest
   * first, at most `limit`, each with the targets that have not acknowledged
   * it (empty once all have): what the pending-decision alert looks at.
   */
  unacknowledged(options: { afterSeq: number; issuedBefore: number; limit: number }): Promise<UnacknowledgedDecision[]>;
  count(): Promise<number>;
  /** Unacknowledged decisions: unexpired ones, and those that expired after `expiredSince` (at or before `now`). */
  outstanding(now: number, expiredSince: number): Promise<OutstandingDecisions[]>;
  /** The desired policy messages kept retained, by target ("fleet" or a node id). */
  policies(): Promise<Map<string, DesiredPolicyMessage>>;
  hasPolicy(target: string): Promise<boolean>;
}

export interface UnacknowledgedDecision {
  seq: number;
  message: DecisionMessage;
  /** The node ids it was sent to that have not acknowledged it, by id. */
  pending: string[];
}

export interface DecisionWrites extends DecisionReads {
  /** The seq the next decision gets (decisions are issued one at a time). */
  nextSeq(): Promise<number>;
  /** Stores a decision under its own seq (`message.seq`), with who made it. */
  add(message: DecisionMessage, targets: readonly string[], origin: DecisionOrigin): Promise<void>;
  /** Links a decision to the OVERRIDE that reversed it; false if there is no such decision or it was overridden already. */
  setOverriddenBy(decisionId: string, overrideId: string): Promise<boolean>;
  /** Records an ack; the first one of a node counts, later ones (redeliveries) change nothing. */
  addAck(decisionId: string, ack: DecisionAck): Promise<void>;
  /**
   * Closes every decision sent to `nodeId` that it has not acknowledged (the
   * node was removed): an ack with ok false, `reason` as its error and `at` as
   * both times. Returns how many were closed.
   */
  closePending(nodeId: string, reason: string, at: number): Promise<number>;
  savePolicy(target: string, message: DesiredPolicyMessage): Promise<void>;
  deletePolicy(target: string): Promise<void>;
}

/** A report a node's strategy made (protocol/reports.ts), as the hub received it. */
export interface ReportRecord {
  nodeId: string;
  kind: ReportKind;
  report: Report;
  receivedAt: number;
}

/** A report read back, with the seq the store gave it (increasing in the order reports were added). */
export interface StoredReport extends ReportRecord {
  seq: number;
}

export interface ReportReads {
  /**
   * A node's reports of one kind, newest first, below `beforeSeq`; `model`
   * keeps one model's (model reports only).
   */
  history(nodeId: string, kind: ReportKind, options: { limit: number; beforeSeq?: number; model?: string }): Promise<StoredReport[]>;
}

export interface ReportWrites extends ReportReads {
  /**
   * Appends reports (oldest first), then keeps the newest REPORT_HISTORY of
   * each series (protocol/reports.ts: a kind, or one model) of each node;
   * ids not registered are skipped.
   */
  add(reports: readonly ReportRecord[]): Promise<void>;
}

/** A federation event of a node (a tick belongs to no node and is not recorded). */
export type NodeFederationEvent = Exclude<FederationEvent, { type: "tick" }>;

/**
 * Federation events kept: a week, so an operator can replay last week's
 * inputs with a new config, and at most FEDERATION_EVENTS_KEPT_PER_NODE of a
 * node, so a chatty node cannot fill the disk: 200,000 is a week of a
 * portfolio snapshot and a health report every 6 s (verdicts and closes come
 * on top), about 60 MB of a node's JSON.
 */
export const FEDERATION_EVENTS_KEPT_MS = 7 * 86_400_000;
export const FEDERATION_EVENTS_KEPT_PER_NODE = 200_000;

/**
 * Alerts kept: the newest ALERTS_KEPT and none raised more than
 * ALERTS_KEPT_MS before the newest, about 3 MB; an alert still waiting in
 * the webhook's outbox is kept whatever its age.
 */
export const ALERTS_KEPT = 10_000;
export const ALERTS_KEPT_MS = 30 * 86_400_000;

/**
 * The federation roles' decision records (issued and advisory) kept, and as
 * many conflicts: the newest 10,000 of each, about 20 MB of JSON, days of
 * a busy fleet's decisions at the engine's hourly cap per role.
 */
export const FEDERATION_ROLE_RECORDS_KEPT = 10_000;

/** How much a store keeps of what grows without end; a backend is opened with these (tests make them small). */
export interface StoreBounds {
  federationEventsPerNode: number;
  federationEventsMs: number;
  alertsKept: number;
  alertsMs: number;
  /** Role decision records and conflicts kept, each (default FEDERATION_ROLE_RECORDS_KEPT). */
  federationRoleRecords?: number;
}

export const DEFAULT_STORE_BOUNDS: StoreBounds = {
  federationEventsPerNode: FEDERATION_EVENTS_KEPT_PER_NODE,
  federationEventsMs: FEDERATION_EVENTS_KEPT_MS,
  alertsKept: ALERTS_KEPT,
  alertsMs: ALERTS_KEPT_MS,
  federationRoleRecords: FEDERATION_ROLE_RECORDS_KEPT,
};

/** An event read back, with the seq the store gave it (increasing in the order events were added: observation order). */
export interface StoredFederationEvent {
  seq: number;
  event: NodeFederationEvent;
}

export interface FederationEventQuery {
  limit: number;
  /** Only events after this seq (the cursor of the page before). */
  afterSeq?: number;
  /** Only events with `at` at or after this. */
  from?: number;
  /** Only events with `at` before this. */
  to?: number;
  /** Only this node's. */
  node?: string;
}

/**
 * A place in the committed order of the events (FederationEventReads.committed),
 * opaque: only the store that gave it reads it.
 */
export type CommittedCursor = string;

export interface CommittedEventsQuery {
  limit: number;
  /** Only events after this place (the cursor of the read before); none: from the oldest kept. */
  after?: CommittedCursor;
  /** Only events with `at` at or after this. */
  from?: number;
}

export interface CommittedEvents {
  events: StoredFederationEvent[];
  /** Where the next read goes on from: past every event read (and past what was skipped as older than `from`). */
  cursor: CommittedCursor;
  /**
   * PostgreSQL: whether a transaction still running holds the read's horizon
   * below transactions begun since (what they commit waits for it); SQLite:
   * never. A horizon held for long stalls the federation engine's input.
   */
  heldBack?: boolean;
}

export interface FederationEventReads {
  /** Events in the order they were added (observed), oldest first, as the query narrows them; at most `limit`. */
  list(query: FederationEventQuery): Promise<StoredFederationEvent[]>;
  /**
   * The events committed after `after`, in an order in which nothing can
   * commit behind the cursor: read again from the returned cursor, each
   * event is read once, none skipped, whichever transaction (or hub
   * replica) wrote it and whenever it committed. What the federation engine
   * of a shared registry is fed from (hub/federation/event-tail.ts). SQLite
   * commits one writer's transactions in seq order: seq order. PostgreSQL
   * takes seq at insert, not at commit: the order of the writing
   * transaction's id, read only below the oldest transaction still running.
   */
  committed(query: CommittedEventsQuery): Promise<CommittedEvents>;
}

export interface FederationEventWrites extends FederationEventReads {
  /**
   * Appends events in the order given (the order observed); those of ids
   * not registered are skipped. Then keeps each node's newest
   * `federationEventsPerNode` and deletes every event with `at` more than
   * `federationEventsMs` before the newest `at` given (StoreBounds).
   */
  add(events: readonly NodeFederationEvent[]): Promise<void>;
}

/**
 * What became of an alert with the webhook (EDGEFED_ALERT_WEBHOOK_URL):
 * none (no webhook when raised), queued (in the outbox), delivered,
 * deduplicated (the same kind and subject was posted within the window),
 * held (over the rate limit, waiting to be summarised), summarised (counted
 * in a later alerts_held_back post), failed (refused for good or given up).
 */
export const ALERT_DELIVERIES = ["none", "queued", "delivered", "deduplicated", "held", "summarised", "failed"] as const;
export type AlertDelivery = (typeof ALERT_DELIVERIES)[number];

/** An alert as stored, numbered by the hub in the order raised. */
export interface StoredAlert {
  seq: number;
  severity: AlertSeverity;
  kind: string;
  /** What it is about (a node id, "fleet", a decision id); with `kind` it makes the dedup key. */
  subject: string;
  message: string;
  at: number;
  delivery: AlertDelivery;
}

/** A webhook post waiting in the outbox: its alert, attempts made, when the next may be. */
export interface AlertOutboxEntry {
  alert: StoredAlert;
  attempts: number;
  nextAttemptAt: number;
}

export interface AlertReads {
  /** Alerts with `at` at or after `since`, newest first, at most `limit`; `delivery` keeps only those. */
  list(options: { since?: number; limit: number; delivery?: AlertDelivery }): Promise<StoredAlert[]>;
  /** The highest seq ever given (0 for none), also once that alert is trimmed. */
  lastSeq(): Promise<number>;
  count(): Promise<number>;
  /** The webhook's outbox in order (oldest alert first), at most `limit`. */
  outbox(limit: number): Promise<AlertOutboxEntry[]>;
}

export interface AlertWrites extends AlertReads {
  /**
   * Stores an alert under its seq (one queued goes in the outbox too), then
   * trims: the newest `alertsKept` are kept, and those raised within
   * `alertsMs` before the newest (StoreBounds); never one in the outbox.
   */
  add(alert: StoredAlert): Promise<void>;
  /**
   * The seq for the next alert, taken inside this write: one more than the
   * highest ever given or taken. Hubs sharing the registry take them in turn
   * (the counter's row lock, held to commit): no two alerts get one seq, and a
   * write rolled back gives its seq back.
   */
  nextSeq(): Promise<number>;
  /**
   * Sets what became of alerts still queued or held (a delivered, failed or
   * summarised one stays so: a late record from a replica that lost the
   * webhook duty changes nothing); any delivery but queued takes them out of
   * the outbox.
   */
  setDelivery(seqs: readonly number[], delivery: AlertDelivery): Promise<void>;
  /** Records a failed attempt of an outbox entry and when to try again. */
  retryLater(seq: number, attempts: number, nextAttemptAt: number): Promise<void>;
}

/** A role's mode set through the admin API, with the mode the config file gave it then (a file that changes it since wins). */
export interface StoredRoleMode {
  role: string;
  mode: RoleMode;
  fileMode: RoleMode;
  setAt: number;
}

/** A rule's latch as kept (LatchChange with a latch). */
export type StoredLatch = LatchChange & { latch: NonNullable<LatchChange["latch"]> };

/**
 * What the federation roles did and where they stand, so a restarted hub
 * goes on from there (hub/federation/rebuild.ts): their decision records
 * (issued and advisory) and conflicts, each rule's latch, and the modes set
 * through the admin API.
 */
export interface FederationRoleReads {
  /** Decision records, newest first (the order added), with `at` at or after `since`; at most `limit`. */
  decisions(query: { limit: number; since?: number }): Promise<KeptDecision[]>;
  /** Conflicts, newest first (the order added), with `at` at or after `since`; at most `limit`. */
  conflicts(query: { limit: number; since?: number }): Promise<ConflictRecord[]>;
  /** Every rule's latch, by rule then target. */
  latches(): Promise<StoredLatch[]>;
  /** The modes set through the admin API, by role. */
  modes(): Promise<StoredRoleMode[]>;
}

export interface FederationRoleWrites extends FederationRoleReads {
  /** Appends decision records (oldest first), then keeps the newest `federationRoleRecords`. */
  addDecisions(records: readonly KeptDecision[]): Promise<void>;
  /** Adds the hub's decision id, or why issuing failed, to a record; false if there is no such record (any more). */
  settleDecision(id: string, outcome: { decision_id: string } | { issue_error: string }): Promise<boolean>;
  /** Appends conflicts (oldest first), then keeps the newest `federationRoleRecords`. */
  addConflicts(records: readonly ConflictRecord[]): Promise<void>;
  /** Applies latch changes in order: a latch replaces the rule's for that target, null deletes it. */
  moveLatches(changes: readonly LatchChange[]): Promise<void>;
  setMode(mode: StoredRoleMode): Promise<void>;
  /** Forgets a role's API-set mode (the file changed it); false if there was none. */
  clearMode(role: string): Promise<boolean>;
}

/**
 * A dashboard session (POST /api/session): the browser holds an opaque random
 * id in a cookie; the registry keeps only its hash, so a copy of the registry
 * opens no session.
 */
export interface SessionRecord {
  /** sha256 (hex) of the session id. */
  idHash: string;
  role: "admin" | "viewer";
  /** Who logged in, as the audit trail names them: an operator's name, "admin" (the env token) or "watch" (the watch token). */
  operator: string;
  /** The operator's id when an operator's token opened it (revoking or rotating the operator ends it); null for the hub's own tokens. */
  operatorId: string | null;
  /** The synchronizer token a state-changing request must echo in X-CSRF-Token. */
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

export interface SessionReads {
  /** The session if it exists and has not expired at `now`. */
  get(idHash: string, now: number): Promise<SessionRecord | undefined>;
}

export interface SessionWrites extends SessionReads {
  add(session: SessionRecord): Promise<void>;
  /** Ends a session; false if there was none. */
  delete(idHash: string): Promise<boolean>;
  /** Deletes the sessions expired at `now`; returns how many. */
  prune(now: number): Promise<number>;
  /** Ends every session an operator opened (revoked or rotated); returns how many. */
  deleteForOperator(operatorId: string): Promise<number>;
}

/**
 * One node's heartbeat metrics and verdicts in one minute (the dashboard's
 * charts): the last load, RSS and outbox depth heard in it, the verdicts
 * counted in it, by verdict and by reason.
 */
export interface MetricBucket {
  nodeId: string;
  /** The minute's start, ms since the epoch (a multiple of 60,000). */
  at: number;
  load: number | null;
  rssBytes: number | null;
  outboxDepth: number | null;
  verdicts: { PASS: number; HOLD: number };
  byReason: Record<string, number>;
}

/** Minute buckets kept per node: 24 hours. */
export const METRIC_BUCKETS_KEPT_MS = 24 * 3_600_000;

export interface MetricBucketReads {
  /** A node's buckets with `at` at or after `from`, oldest first. */
  list(nodeId: string, from: number): Promise<MetricBucket[]>;
}

export interface MetricBucketWrites extends MetricBucketReads {
  /** Adds (or replaces, same node and minute) buckets; ids not registered are skipped. */
  add(buckets: readonly MetricBucket[]): Promise<void>;
  /**
   * Adds each bucket as one hub replica's share of its node's minute (several
   * replicas hear one node): verdict counts, by verdict and by reason, are
   * summed with what is stored; the gauges (load, RSS, outbox) are this
   * share's where it has them. Each share is written once. Ids not
   * registered are skipped.
   */
  addShares(buckets: readonly MetricBucket[]): Promise<void>;
  /** Deletes every bucket with `at` before `before`; returns how many. */
  prune(before: number): Promise<number>;
}

/** The hub's own values, by key (its key pair, the admin and watch token hashes). */
export interface HubValueReads {
  get(key: string): Promise<string | undefined>;
}

export interface HubValueWrites extends HubValueReads {
  put(key: string, value: string): Promise<void>;
  /** Forgets a value; false if there was none. */
  delete(key: string): Promise<boolean>;
}

/**
 * A named admin token (an operator): the token is shown once; the registry
 * keeps its verifier only (a salted scrypt, hub/identity/slow-hash.ts).
 */
export interface OperatorRecord {
  /** Public, random, part of the token (efo_<id>_<secret>), so a presented token names the one row to check. */
  id: string;
  name: string;
  role: "admin" | "viewer";
  /** The scrypt verifier of the current token. */
  verifier: string;
  createdAt: number;
  createdBy: string;
  /** null: never rotated. */
  rotatedAt: number | null;
  /** null: in force. */
  revokedAt: number | null;
}

export interface OperatorReads {
  get(id: string): Promise<OperatorRecord | undefined>;
  /** Every operator, revoked ones too, oldest first. */
  list(): Promise<OperatorRecord[]>;
  /** The operator in force by that name. */
  activeByName(name: string): Promise<OperatorRecord | undefined>;
}

export interface OperatorWrites extends OperatorReads {
  /** Adds an operator; throws if one in force has the name. */
  add(operator: OperatorRecord): Promise<void>;
  /** Revokes an operator in force; false if none (or revoked already). */
  revoke(id: string, at: number): Promise<boolean>;
  /** Replaces an operator's verifier (a new token; the old one stops working); false if none in force. */
  rotate(id: string, verifier: string, at: number): Promise<boolean>;
}

/** What an audit record says happened, before it is chained (hub/audit/audit-chain.ts). */
export interface AuditEntry {
  at: number;
  /** Who: an operator's name, "admin" (the env token), "role:<name>" (a federation role), "cli:<user>" (a command on the data dir). */
  actor: string;
  /** What, e.g. "decision.issue", "node.remove", "token.revoke", "operator.rotate". */
  action: string;
  /** What it was done to: a decision id, node id, token id or operator name. */
  subject: string;
  detail: Record<string, unknown>;
}

/** An audit record as kept: numbered from 1 without gaps, each carrying the hash of the one before ("" for the first). */
export interface AuditRecord extends AuditEntry {
  seq: number;
  prevHash: string;
  hash: string;
}

export interface AuditReads {
  /** The newest record, or undefined when the trail is empty. */
  last(): Promise<AuditRecord | undefined>;
  /** Records oldest first after `afterSeq`, at most `limit` (verify walks the trail with it). */
  after(afterSeq: number, limit: number): Promise<AuditRecord[]>;
  /** Records newest first below `beforeSeq`, at most `limit` (the API's pages). */
  before(beforeSeq: number | undefined, limit: number): Promise<AuditRecord[]>;
}

export interface AuditWrites extends AuditReads {
  /** Appends a chained record; the trail has no update nor delete. */
  append(record: AuditRecord): Promise<void>;
}

/** Work packages (hub/work/work-model.ts), their attempts and their history. */
export interface WorkReads {
  get(id: string): Promise<WorkPackage | undefined>;
  byIdempotencyKey(key: string): Promise<WorkPackage | undefined>;
  /** The packages of one fleet submit, by seq. */
  group(group: string): Promise<WorkPackage[]>;
  /** Newest first, as the query narrows them; at most `limit`. */
  list(query: WorkListQuery): Promise<WorkPackage[]>;
  /** Queued, leased and running packages, oldest first: what the scheduler works on. */
  active(): Promise<WorkPackage[]>;
  /** How many packages are in each state. */
  countByState(): Promise<Record<WorkState, number>>;
  /** How many are queued, leased or running (cheap: the scheduler asks every tick). */
  activeCount(): Promise<number>;
  /** Its attempts, first first. */
  attempts(id: string): Promise<WorkAttempt[]>;
  /** Its transitions and refused messages, oldest first. */
  events(id: string): Promise<WorkEvent[]>;
}

export interface WorkWrites extends WorkReads {
  /** Stores a new package, queued, and records its first event; a taken idempotency key or id throws. */
  add(pkg: NewWorkPackage): Promise<WorkPackage>;
  /**
   * Applies a change if the state machine allows it from where the package
   * is (ALLOWED_TRANSITIONS) and, for a fenced change, if its attempt is the
   * current one; records it. A refused fenced change is recorded too (event
   * with `to` null). A lease running out on the last attempt fails the package.
   */
  transition(id: string, change: WorkChange, at: number): Promise<TransitionOutcome>;
}

/** What a write's work gets: reads and writes inside its transaction. */
export interface StoreTransaction {
  nodes: NodeWrites;
  tokens: TokenWrites;
  tombstones: TombstoneWrites;
  decisions: DecisionWrites;
  reports: ReportWrites;
  federationEvents: FederationEventWrites;
  alerts: AlertWrites;
  federationRoles: FederationRoleWrites;
  work: WorkWrites;
  hubValues: HubValueWrites;
  sessions: SessionWrites;
  metricBuckets: MetricBucketWrites;
  operators: OperatorWrites;
  audit: AuditWrites;
  /**
   * Sends `payload` on `channel` to the hubs listening (RegistryNotifications)
   * when this transaction commits, and never if it rolls back. SQLite: nothing
   * (one hub owns the file, there is nobody to tell).
   */
  notify(channel: string, payload: string): Promise<void>;
}

/**
 * The database's notifications (PostgreSQL LISTEN/NOTIFY), for hub replicas
 * sharing the registry (hub/replicas/change-feed.ts). One listening
 * connection receives what was sent on its channels in commit order.
 */
export interface RegistryNotifications {
  /** Names this registry (PostgreSQL: its schema) so channels of two registries on one server do not meet. */
  readonly registryName: string;
  /**
   * Calls `onPayload` with each payload sent on `channel`; `onListen` each
   * time listening starts, the first time and after every reconnect of the
   * listening connection (what was sent meanwhile is lost).
   */
  listen(channel: string, onPayload: (payload: string) => void, onListen: () => void): Promise<{ unlisten(): Promise<void> }>;
  /** Sends at once (its own transaction). */
  notify(channel: string, payload: string): Promise<void>;
}

export interface HubStore {
  nodes: NodeReads;
  tokens: TokenReads;
  tombstones: TombstoneReads;
  decisions: DecisionReads;
  reports: ReportReads;
  federationEvents: FederationEventReads;
  alerts: AlertReads;
  federationRoles: FederationRoleReads;
  work: WorkReads;
  hubValues: HubValueReads;
  sessions: SessionReads;
  metricBuckets: MetricBucketReads;
  operators: OperatorReads;
  audit: AuditReads;
  /**
   * Whether several hub replicas may share this registry (PostgreSQL): what
   * one hub keeps in memory may then be changed by another, so ordering and
   * single-replica work go through the database. False on SQLite: one hub
   * process owns the file.
   */
  readonly shared: boolean;
  /** The database's notifications when the registry is shared (PostgreSQL); null on SQLite. */
  readonly notifications: RegistryNotifications | null;
  /**
   * Runs `work` in one transaction and resolves with its result once that is
   * committed; if `work` throws, nothing it wrote stays and the promise
   * rejects with its error. `work` awaits only `tx`: the SQLite backend
   * commits the writes of one event-loop turn together (group commit) and
   * refuses work that waits on anything else.
   */
  write<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /** Whether the store answers (GET /health). */
  healthy(): Promise<boolean>;
  /** Commits what is queued, then closes. */
  close(): Promise<void>;
}
