// The agent's durable outbox: every event the agent publishes (the kinds the
// topic table in protocol/topics.ts sends via the outbox: heartbeats, verdict
// events, decision acks) is written here first and published from here, in id
// order, once the broker takes it. It replaces MQTT.js's offline queue, which
// lives in memory (lost on restart) and floods the broker with queued QoS 0 on
// reconnect. State and birth, retained latest values, are not queued: the
// agent publishes them directly on each connect (agent-mqtt.ts).
//
// Durability: enqueue() returns after its transaction committed, and the
// agent's database runs synchronous=FULL, so a returned id survives kill -9
// and a power cut. Order: ids come from INTEGER PRIMARY KEY AUTOINCREMENT, so
// they only grow and are never reused, even after the newest row was removed
// (a plain rowid would restart at max+1 and could hand out a delivered id
// again).
//
// Bound: past `maxMessages` the OLDEST heartbeats go first, in the enqueue's
// own transaction. A kind with a cap of its own in the topic table (portfolio
// and health reports, whose newer messages supersede the older) keeps at most
// that many queued, its oldest going first, also in the enqueue's
// transaction. Verdicts, acks and model reports are never dropped; with only
// those left the outbox grows past its bound and says so once per crossing.
//
// The depth and the per-kind counts are kept in memory (one count query at
// construction), so an enqueue costs its INSERT, not a count(*). That holds
// only if this class is the one writer of the table: one Outbox per database,
// one process (the agent holds its data dir alone).
import type { SqliteDatabase, SqliteStatement } from "../lib/sqlite.ts";
import { deliveryOf, nodeTopic, outboxCap, OUTBOX_KINDS, type MessageOf, type OutboxKind } from "../protocol/topics.ts";

export { OUTBOX_KINDS, type OutboxKind };

export interface OutboxMessage {
  id: number;
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
  kind: OutboxKind;
  /** When it was queued, ms since the epoch (the caller's clock). */
  queuedAt: number;
}

export type NewOutboxMessage = Omit<OutboxMessage, "id">;

export interface OutboxOptions {
  /** The bound; heartbeats are dropped (oldest first) to keep the depth at or under it. */
  maxMessages: number;
  /** Where the over-bound notices go (default: stderr). */
  log?: (line: string) => void;
}

export interface OutboxStats {
  depth: number;
  /** Heartbeats dropped by the bound since this Outbox was constructed. */
  droppedHeartbeats: number;
  /** Messages of each capped kind dropped by its cap since this Outbox was constructed. */
  droppedOverCap: Partial<Record<OutboxKind, number>>;
  byKind: Record<OutboxKind, number>;
}

const KNOWN_KINDS: ReadonlySet<string> = new Set(OUTBOX_KINDS);
/** The kinds with a cap of their own (topics.ts), and the cap. */
const CAPPED_KINDS = OUTBOX_KINDS.flatMap((kind) => {
  const cap = outboxCap(kind);
  return cap === null ? [] : [{ kind, cap }];
});

function zeroCounts(): Record<OutboxKind, number> {
  return Object.fromEntries(OUTBOX_KINDS.map((kind) => [kind, 0])) as Record<OutboxKind, number>;
}

/** A message of `kind` from `node`, with the topic, QoS and retain flag the protocol gives that kind. */
export function outboxMessage<K extends OutboxKind>(node: string, kind: K, message: MessageOf<K>, queuedAt: number): NewOutboxMessage {
  return { topic: nodeTopic(node, kind), payload: JSON.stringify(message), ...deliveryOf(kind), kind, queuedAt };
}

/** Why `m` cannot be queued, or null. Checked for the whole batch before anything is written. */
function invalidMessage(m: unknown): string | null {
  if (typeof m !== "object" || m === null) return "not an object";
  const { topic, payload, qos, retain, kind, queuedAt } = m as Record<string, unknown>;
  if (typeof topic !== "string" || topic.length === 0) return "topic must be a non-empty string";
  // A topic the broker refuses would sit at the head of the queue and block everything behind it.
  if (/[+#\u0000]/.test(topic)) return `topic ${JSON.stringify(topic)} must not contain +, # or NUL`;
  if (typeof payload !== "string") return "payload must be a string";
  if (qos !== 0 && qos !== 1) return `qos must be 0 or 1, not ${String(qos)}`;
  if (typeof retain !== "boolean") return "retain must be a boolean";
  if (typeof kind !== "string" || !KNOWN_KINDS.has(kind)) return `kind must be one of ${OUTBOX_KINDS.join(", ")}, not ${String(kind)}`;
  if (typeof queuedAt !== "number" || !Number.isFinite(queuedAt)) return "queuedAt must be a finite number";
  return null;
}

function checkId(id: unknown, what: string): number {
  if (typeof id !== "number" || !Number.isSafeInteger(id)) throw new Error(`outbox: ${what} must be an integer, not ${String(id)}`);
  return id;
}

interface Row {
  id: number;
  topic: string;
  payload: string;
  qos: number;
  retain: number;
  kind: string;
  queued_at: number;
}

function fromRow(row: Row): OutboxMessage {
  return {
    id: row.id,
    topic: row.topic,
    payload: row.payload,
    qos: row.qos === 1 ? 1 : 0,
    retain: row.retain === 1,
    kind: row.kind as OutboxKind,
    queuedAt: row.queued_at,
  };
}

export class Outbox {
  private readonly maxMessages: number;
  private readonly log: (line: string) => void;
  private readonly counts = zeroCounts();
  /** Rows of kinds this version does not know (written by a newer agent): counted in the depth only. */
  private unknownKinds = 0;
  private dropped = 0;
  private readonly droppedOverCap: Partial<Record<OutboxKind, number>> = Object.fromEntries(CAPPED_KINDS.map(({ kind }) => [kind, 0]));
  private overBound = false;
  private readonly sql: Record<"insert" | "dropHeartbeats" | "dropOldest" | "peek" | "peekHeartbeats" | "byIds" | "removeThrough" | "removeRange" | "remove", SqliteStatement>;

  /** On an open agent store (its `outbox` table: agent-schema.ts). */
  constructor(
    private readonly db: SqliteDatabase,
    options: OutboxOptions,
  ) {
    if (!Number.isSafeInteger(options.maxMessages) || options.maxMessages < 1) {
      throw new Error(`outbox: maxMessages must be a positive integer, not ${String(options.maxMessages)}`);
    }
    this.maxMessages = options.maxMessages;
    this.log = options.log ?? ((line) => console.error(line));
    for (const { kind, n } of db.prepare("SELECT kind, count(*) AS n FROM outbox GROUP BY kind").all<{ kind: string; n: number }>()) {
      if (KNOWN_KINDS.has(kind)) this.counts[kind as OutboxKind] = n;
      else this.unknownKinds += n;
    }
    this.sql = {
      insert: db.prepare("INSERT INTO outbox (topic, payload, qos, retain, kind, queued_at) VALUES (?, ?, ?, ?, ?, ?)"),
      dropHeartbeats: db.prepare("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE kind = 'heartbeat' ORDER BY id LIMIT ?)"),
      dropOldest: db.prepare("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE kind = ? ORDER BY id LIMIT ?)"),
      peek: db.prepare("SELECT id, topic, payload, qos, retain, kind, queued_at FROM outbox WHERE id > ? ORDER BY id LIMIT ?"),
      peekHeartbeats: db.prepare("SELECT id, topic, payload, qos, retain, kind, queued_at FROM outbox WHERE kind = 'heartbeat' AND id > ? ORDER BY id LIMIT ?"),
      byIds: db.prepare("SELECT id, topic, payload, qos, retain, kind, queued_at FROM outbox WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id"),
      // RETURNING kind keeps the per-kind counts exact without a count query.
      removeThrough: db.prepare("DELETE FROM outbox WHERE id <= ? RETURNING kind"),
      removeRange: db.prepare("DELETE FROM outbox WHERE id BETWEEN ? AND ? RETURNING kind"),
      remove: db.prepare("DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?)) RETURNING kind"),
    };
  }

  /**
   * Queues `messages` in one transaction and returns their ids in order;
   * durable when it returns (the caller's database runs synchronous=FULL).
   * Applies the caps and the bound in the same transaction. If they can
   * only be kept by dropping messages of this very batch, those are dropped
   * too, so a returned id of a heartbeat or a capped kind may already be gone. Throws, writing nothing, if any message is invalid.
   * `alsoInTransaction` runs inside the same transaction (after the inserts),
   * so the caller can record what it queued atomically with queuing it.
   */
  enqueue(messages: readonly NewOutboxMessage[], alsoInTransaction?: () => void): number[] {
    if (!Array.isArray(messages as unknown)) throw new Error("outbox: enqueue takes an array of messages");
    messages.forEach((m, i) => {
      const why = invalidMessage(m);
      if (why) throw new Error(`outbox: message ${i} refused, nothing queued: ${why}`);
    });
    if (messages.length === 0 && !alsoInTransaction) return [];

    // Changes are applied to the in-memory counts only after the commit, so a
    // rolled-back transaction leaves them true.
    const delta = zeroCounts();
    let depth = this.depth();
    let dropped = 0;
    const overCap: Partial<Record<OutboxKind, number>> = {};
    const ids = this.db.transaction(() => {
      const ids: number[] = [];
      for (const m of messages) {
        const id = Number(this.sql.insert.run(m.topic, m.payload, m.qos, m.retain ? 1 : 0, m.kind, m.queuedAt).lastInsertRowid);
        ids.push(id);
        delta[m.kind] += 1;
        depth += 1;
      }
      for (const { kind, cap } of CAPPED_KINDS) {
        const excess = this.counts[kind] + delta[kind] - cap;
        if (excess <= 0) continue;
        const n = this.sql.dropOldest.run(kind, excess).changes;
        overCap[kind] = n;
        delta[kind] -= n;
        depth -= n;
      }
      if (depth > this.maxMessages) {
        dropped = this.sql.dropHeartbeats.run(depth - this.maxMessages).changes;
        delta.heartbeat -= dropped;
        depth -= dropped;
      }
      alsoInTransaction?.();
      return ids;
    });
    for (const kind of OUTBOX_KINDS) this.counts[kind] += delta[kind];
    this.dropped += dropped;
    for (const { kind } of CAPPED_KINDS) this.droppedOverCap[kind]! += overCap[kind] ?? 0;
    this.noteBound();
    return ids;
  }

  /** Up to `limit` oldest messages with an id above `afterId`, in id order (`afterId` lets a publisher pipeline). */
  peek(limit: number, afterId = 0): OutboxMessage[] {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new Error(`outbox: limit must be a non-negative integer, not ${String(limit)}`);
    return this.sql.peek.all<Row>(checkId(afterId, "afterId"), limit).map(fromRow);
  }

  /** Like peek(), heartbeats only: they may go ahead of events waiting for room (agent-mqtt.ts). */
  peekHeartbeats(limit: number, afterId = 0): OutboxMessage[] {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new Error(`outbox: limit must be a non-negative integer, not ${String(limit)}`);
    return this.sql.peekHeartbeats.all<Row>(checkId(afterId, "afterId"), limit).map(fromRow);
  }

  /** The messages with these ids that are still queued, in id order (to send again those a receipt did not come for). */
  byIds(ids: readonly number[]): OutboxMessage[] {
    ids.forEach((id, i) => checkId(id, `ids[${i}]`));
    if (ids.length === 0) return [];
    return this.sql.byIds.all<Row>(JSON.stringify(ids)).map(fromRow);
  }

  /** Removes every message with an id <= `id` (they were delivered), in one statement. */
  removeThrough(id: number): void {
    this.forget(this.sql.removeThrough.all<{ kind: string }>(checkId(id, "id")));
  }

  /**
   * Removes the ids in these inclusive ranges (a receipt's: the hub committed
   * them), in one transaction, one DELETE per range; absent ids are ignored.
   */
  removeRanges(ranges: readonly (readonly [number, number])[]): void {
    ranges.forEach(([first, last], i) => {
      checkId(first, `ranges[${i}][0]`);
      checkId(last, `ranges[${i}][1]`);
    });
    if (ranges.length === 0) return;
    const removed = this.db.transaction(() => ranges.flatMap(([first, last]) => this.sql.removeRange.all<{ kind: string }>(first, last)));
    this.forget(removed);
  }

  /** Removes exactly these ids (absent ones are ignored), in one statement. */
  remove(ids: readonly number[]): void {
    if (!Array.isArray(ids as unknown)) throw new Error("outbox: remove takes an array of ids");
    ids.forEach((id, i) => checkId(id, `ids[${i}]`));
    if (ids.length === 0) return;
    this.forget(this.sql.remove.all<{ kind: string }>(JSON.stringify(ids)));
  }

  /** Messages queued now (kept in memory, no query). */
  depth(): number {
    return this.unknownKinds + OUTBOX_KINDS.reduce((sum, kind) => sum + this.counts[kind], 0);
  }

  stats(): OutboxStats {
    return { depth: this.depth(), droppedHeartbeats: this.dropped, droppedOverCap: { ...this.droppedOverCap }, byKind: { ...this.counts } };
  }

  private forget(removed: { kind: string }[]): void {
    for (const { kind } of removed) {
      if (KNOWN_KINDS.has(kind)) this.counts[kind as OutboxKind] -= 1;
      else this.unknownKinds -= 1;
    }
    this.noteBound();
  }

  /** Logs each crossing of the bound, both ways, once. */
  private noteBound(): void {
    const depth = this.depth();
    if (depth > this.maxMessages && !this.overBound) {
      this.overBound = true;
      const kept = OUTBOX_KINDS.filter((kind) => kind !== "heartbeat" && this.counts[kind] > 0).map((kind) => `${kind} (${this.counts[kind]})`);
      this.log(
        `outbox: ${depth} messages, over its bound of ${this.maxMessages} with no heartbeat left to drop; ` +
          `it keeps growing rather than drop ${kept.join(" or ")}`,
      );
    } else if (depth <= this.maxMessages && this.overBound) {
      this.overBound = false;
      this.log(`outbox: ${depth} messages, back within its bound of ${this.maxMessages}`);
    }
  }
}
