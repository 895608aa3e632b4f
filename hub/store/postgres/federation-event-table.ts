// What the hub observed of its fleet, in PostgreSQL (FederationEventWrites in
// ../hub-store.ts says what each method promises; the SQLite twin is
// ../sqlite/federation-event-table.ts): kept a week and at most
// federationEventsPerNode a node, each node's count kept beside its events
// so the count bound deletes exactly the excess, oldest first.
import {
  DEFAULT_STORE_BOUNDS,
  type FederationEventQuery,
  type FederationEventWrites,
  type NodeFederationEvent,
  type StoreBounds,
  type StoredFederationEvent,
} from "../hub-store.ts";
import { storedEventOf, type FederationEventRow } from "../rows/federation-rows.ts";
import type { Db } from "./connection.ts";

/** Counts by node id. */
function countByNode(rows: readonly { node_id: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { node_id } of rows) counts.set(node_id, (counts.get(node_id) ?? 0) + 1);
  return counts;
}

export class PostgresFederationEventTable implements FederationEventWrites {
  constructor(
    private readonly db: Db,
    private readonly bounds: StoreBounds = DEFAULT_STORE_BOUNDS,
  ) {}

  async add(events: readonly NodeFederationEvent[]): Promise<void> {
    if (events.length === 0) return;
    // Only for a registered node: an event queued before the node's removal committed must not outlive it.
    const inserted = await this.db<{ node_id: string }[]>`
      INSERT INTO federation_events (node_id, type, at, event)
      SELECT node_id, type, at, event
      FROM unnest(${events.map((e) => e.node)}::text[], ${events.map((e) => e.type)}::text[], ${events.map((e) => String(e.at))}::bigint[],
                  ${events.map((e) => JSON.stringify(e))}::text[])
        WITH ORDINALITY AS added(node_id, type, at, event, position)
      WHERE EXISTS (SELECT 1 FROM nodes WHERE nodes.node_id = added.node_id)
      ORDER BY position
      RETURNING node_id`;
    for (const [node, n] of countByNode(inserted)) {
      const [row] = await this.db<{ events: number }[]>`
        INSERT INTO federation_event_counts (node_id, events) VALUES (${node}, ${n})
        ON CONFLICT (node_id) DO UPDATE SET events = federation_event_counts.events + excluded.events RETURNING events`;
      const excess = row!.events - this.bounds.federationEventsPerNode;
      if (excess > 0) {
        await this.db`DELETE FROM federation_events WHERE seq IN (SELECT seq FROM federation_events WHERE node_id = ${node} ORDER BY seq LIMIT ${excess})`;
        await this.uncount(node, excess);
      }
    }
    const newest = Math.max(...events.map((e) => e.at));
    const aged = await this.db<{ node_id: string }[]>`DELETE FROM federation_events WHERE at < ${newest - this.bounds.federationEventsMs} RETURNING node_id`;
    for (const [node, n] of countByNode(aged)) await this.uncount(node, n);
  }

  private async uncount(node: string, n: number): Promise<void> {
    await this.db`UPDATE federation_event_counts SET events = events - ${n} WHERE node_id = ${node}`;
  }

  async list(query: FederationEventQuery): Promise<StoredFederationEvent[]> {
    const node = query.node === undefined ? this.db`` : this.db`AND node_id = ${query.node}`;
    const to = query.to === undefined ? this.db`` : this.db`AND at < ${query.to}`;
    const rows = await this.db<FederationEventRow[]>`
      SELECT seq, event FROM federation_events
      WHERE seq > ${query.afterSeq ?? 0} AND at >= ${query.from ?? 0} ${node} ${to}
      ORDER BY seq LIMIT ${query.limit}`;
    return rows.map(storedEventOf);
  }
}
