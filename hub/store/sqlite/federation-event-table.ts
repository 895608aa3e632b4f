// What the hub observed of its fleet, in SQLite (FederationEventWrites in
// ../hub-store.ts says what each method promises): the federation roles'
// input stream, kept a week and at most FEDERATION_EVENTS_KEPT_PER_NODE a
// node. The fleet view writes them with its batched flush or its commit
// before an ack, in the same transaction as what produced them; they go with
// their node (node-table.ts). Each node's event count is kept beside the
// events, so the count bound deletes exactly the excess, oldest first,
// without walking the node's events.
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import {
  type CommittedEvents,
  type CommittedEventsQuery,
  DEFAULT_STORE_BOUNDS,
  type FederationEventQuery,
  type FederationEventWrites,
  type NodeFederationEvent,
  type StoreBounds,
  type StoredFederationEvent,
} from "../hub-store.ts";
import { storedEventOf, type FederationEventRow } from "../rows/federation-rows.ts";

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteFederationEventTable implements FederationEventWrites {
  private readonly insert;
  private readonly count;
  private readonly trimOldest;
  private readonly deleteAged;
  private readonly uncount;
  private readonly selectRange;
  private readonly selectOpen;
  private readonly firstSeq;
  private readonly lastSeq;

  constructor(
    db: SqliteDatabase,
    private readonly bounds: StoreBounds = DEFAULT_STORE_BOUNDS,
  ) {
    // Only for a registered node: an event queued before the node's removal committed must not outlive it.
    this.insert = db.prepare(
      `INSERT INTO federation_events (node_id, type, at, event)
       SELECT $node, $type, $at, $event WHERE EXISTS (SELECT 1 FROM nodes WHERE node_id = $node)`,
    );
    this.count = db.prepare(
      `INSERT INTO federation_event_counts (node_id, events) VALUES (?1, ?2)
       ON CONFLICT (node_id) DO UPDATE SET events = events + ?2 RETURNING events`,
    );
    this.trimOldest = db.prepare(
      `DELETE FROM federation_events WHERE seq IN (SELECT seq FROM federation_events WHERE node_id = ?1 ORDER BY seq LIMIT ?2)`,
    );
    this.deleteAged = db.prepare("DELETE FROM federation_events WHERE at < ? RETURNING node_id");
    this.uncount = db.prepare("UPDATE federation_event_counts SET events = events - ? WHERE node_id = ?");
    // A range with an end: gathered on the time index. One open to the newest: walked in seq (or a
    // node's seq) from where it starts, stopping at `limit`, so paging through it costs each page only
    // (`+at` keeps SQLite off the time index, which would gather and sort the rest for every page).
    const columns = "SELECT seq, event FROM federation_events WHERE seq > $after AND ($node IS NULL OR node_id = $node)";
    this.selectRange = db.prepare(`${columns} AND at >= $from AND at < $to ORDER BY seq LIMIT $limit`);
    this.selectOpen = db.prepare(`${columns} AND +at >= $from ORDER BY seq LIMIT $limit`);
    // On the time index (covering: at and seq): left to itself, SQLite walks seq from the start of the table for min(seq).
    this.firstSeq = db.prepare("SELECT min(seq) AS seq FROM federation_events INDEXED BY federation_events_at WHERE at >= ?");
    this.lastSeq = db.prepare("SELECT max(seq) AS seq FROM federation_events");
  }

  async add(events: readonly NodeFederationEvent[]): Promise<void> {
    if (events.length === 0) return;
    const added = new Map<string, number>();
    let newest = 0;
    for (const event of events) {
      const inserted = this.insert.run({ node: event.node, type: event.type, at: event.at, event: JSON.stringify(event) }).changes;
      if (inserted) added.set(event.node, (added.get(event.node) ?? 0) + 1);
      newest = Math.max(newest, event.at);
    }
    for (const [node, n] of added) {
      const { events: total } = this.count.get<{ events: number }>(node, n)!;
      const excess = total - this.bounds.federationEventsPerNode;
      if (excess > 0) {
        this.trimOldest.run(node, excess);
        this.uncount.run(excess, node);
      }
    }
    const aged = new Map<string, number>();
    for (const { node_id } of this.deleteAged.all<{ node_id: string }>(newest - this.bounds.federationEventsMs)) aged.set(node_id, (aged.get(node_id) ?? 0) + 1);
    for (const [node, n] of aged) this.uncount.run(n, node);
  }

  async list(query: FederationEventQuery): Promise<StoredFederationEvent[]> {
    const from = query.from ?? 0;
    const params = { after: query.afterSeq ?? 0, from, node: query.node ?? null, limit: query.limit };
    let rows: FederationEventRow[];
    if (query.to !== undefined) rows = this.selectRange.all({ ...params, to: query.to });
    else {
      if (query.afterSeq === undefined && from > 0) {
        const first = this.firstSeq.get<{ seq: number | null }>(from)?.seq ?? null;
        if (first === null) return [];
        params.after = first - 1;
      }
      rows = this.selectOpen.all(params);
    }
    return rows.map(storedEventOf);
  }

  /** One writer commits in seq order: the committed order is seq order, and the cursor a seq. */
  async committed(query: CommittedEventsQuery): Promise<CommittedEvents> {
    const afterSeq = query.after === undefined ? undefined : Number(query.after);
    const events = await this.list({ limit: query.limit, afterSeq, from: query.from });
    // A short page read to the end: the next read starts past it (past what was older than `from` too).
    const end = events.length < query.limit ? (this.lastSeq.get<{ seq: number | null }>()?.seq ?? 0) : 0;
    return { events, cursor: String(Math.max(end, events.at(-1)?.seq ?? afterSeq ?? 0)) };
  }
}
