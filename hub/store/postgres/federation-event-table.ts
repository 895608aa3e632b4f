// What the hub observed of its fleet, in PostgreSQL (FederationEventWrites in
// ../hub-store.ts says what each method promises; the SQLite twin is
// ../sqlite/federation-event-table.ts): kept a week and at most
// federationEventsPerNode a node, each node's count kept beside its events
// so the count bound deletes exactly the excess, oldest first. committed()
// reads them in the order of their writing transaction's id (the xid column,
// schema step 4), only below the oldest transaction still running: every
// transaction before that point has finished, so a read from the cursor
// never skips an event that commits later nor reads one twice.
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
import type { Db } from "./connection.ts";

/** A place in the committed order: after the event (xid, seq). */
interface CommittedPlace {
  xid: string;
  seq: number;
}

function placeOf(cursor: string): CommittedPlace {
  const match = /^(\d+):(\d+)$/.exec(cursor);
  if (!match) throw new Error(`not a PostgreSQL federation event cursor: ${cursor}`);
  return { xid: match[1]!, seq: Number(match[2]) };
}

const cursorOf = (place: CommittedPlace): string => `${place.xid}:${place.seq}`;

/**
 * How many events each node gained (+1 a row) and lost (-1 a row), in node
 * id order: every writer takes the count rows' locks in that one order, so
 * replicas adding events of the same nodes at once wait for each other
 * instead of deadlocking.
 */
function countChanges(gained: readonly { node_id: string }[], lost: readonly { node_id: string }[]): [string, number][] {
  const changes = new Map<string, number>();
  for (const { node_id } of gained) changes.set(node_id, (changes.get(node_id) ?? 0) + 1);
  for (const { node_id } of lost) changes.set(node_id, (changes.get(node_id) ?? 0) - 1);
  return [...changes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
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
    // Aged events go before any count row is locked, then each node's count moves once.
    const newest = Math.max(...events.map((e) => e.at));
    const aged = await this.db<{ node_id: string }[]>`DELETE FROM federation_events WHERE at < ${newest - this.bounds.federationEventsMs} RETURNING node_id`;
    const changes = countChanges(inserted, aged).filter(([, change]) => change !== 0);
    if (changes.length === 0) return;
    // One statement for every node's count, its rows taken in the order given.
    const counted = await this.db<{ node_id: string; events: number }[]>`
      INSERT INTO federation_event_counts (node_id, events)
      SELECT node_id, change FROM unnest(${changes.map(([node]) => node)}::text[], ${changes.map(([, change]) => String(change))}::bigint[])
        WITH ORDINALITY AS moved(node_id, change, position)
      ORDER BY position
      ON CONFLICT (node_id) DO UPDATE SET events = federation_event_counts.events + excluded.events
      RETURNING node_id, events`;
    for (const { node_id: node, events: count } of counted) {
      const excess = count - this.bounds.federationEventsPerNode;
      if (excess > 0) {
        await this.db`DELETE FROM federation_events WHERE seq IN (SELECT seq FROM federation_events WHERE node_id = ${node} ORDER BY seq LIMIT ${excess})`;
        await this.uncount(node, excess);
      }
    }
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

  async committed(query: CommittedEventsQuery): Promise<CommittedEvents> {
    const from = query.from ?? 0;
    // No cursor: from the first transaction that wrote an event in range (on the time index, not a walk of the whole week).
    const start =
      query.after !== undefined
        ? this.db`(${placeOf(query.after).xid}::xid8, ${placeOf(query.after).seq}::bigint)`
        : this.db`(coalesce((SELECT min(xid) FROM federation_events WHERE at >= ${from}), '0'::xid8), 0::bigint)`;
    // One statement, one snapshot: the horizon and the rows below it are seen alike.
    const rows = await this.db<{ horizon: string; next: string; seq: number | null; xid: string | null; event: string | null }[]>`
      WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin, pg_snapshot_xmax(pg_current_snapshot()) AS xmax),
      page AS (
        SELECT seq, xid, event FROM federation_events
        WHERE (xid, seq) > ${start} AND xid < (SELECT xmin FROM horizon) AND at >= ${from}
        ORDER BY xid, seq LIMIT ${query.limit}
      )
      SELECT horizon.xmin::text AS horizon, horizon.xmax::text AS next, page.seq, page.xid::text AS xid, page.event
      FROM horizon LEFT JOIN page ON true ORDER BY page.xid, page.seq`;
    const events = rows.filter((row) => row.seq !== null).map((row) => storedEventOf({ seq: row.seq!, event: row.event! }));
    const last = rows.at(-1);
    // A short page read everything below the horizon: the next read starts there (no transaction below it is still running).
    // Below the next transaction id: one still running began before a later one (what commits after it is not read yet).
    const heldBack = rows[0]!.horizon !== rows[0]!.next;
    if (events.length < query.limit) return { events, cursor: cursorOf({ xid: rows[0]!.horizon, seq: 0 }), heldBack };
    return { events, cursor: cursorOf({ xid: last!.xid!, seq: last!.seq! }) };
  }
}
