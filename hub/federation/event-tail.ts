// The federation events every hub replica recorded, read back from the
// shared registry in committed order (FederationEventReads.committed), so the
// one replica that runs the federation engine sees the whole fleet's events,
// not only its share of the broker's traffic. It polls: every `everyMs` it
// reads pages until one is short and hands them over, oldest first. A failed
// read is logged (once until a read succeeds again) and tried again from the
// same cursor: nothing is lost or read twice. On PostgreSQL the tail reads
// only below the oldest transaction still running (the horizon): one left
// open on the server (any client's, of any database) stalls it. When the
// horizon is held STALL_LOG_AFTER_MS the tail says so in the log (once, and
// again when it moves) and in edgefed_federation_tail_stalled_seconds.
import type { CommittedCursor, HubStore, NodeFederationEvent } from "../store/hub-store.ts";

/** How often the tail looks for newly committed events: the engine's input lag on a shared registry is about this. */
export const TAIL_EVERY_MS = 100;
/** A horizon held this long is logged. */
export const STALL_LOG_AFTER_MS = 30_000;
/** Events read at most per query. */
const PAGE = 1000;

export interface EventTailOptions {
  store: HubStore;
  /** Where to go on from (the rebuild's end: LiveFederation.eventsRebuiltTo). */
  after: CommittedCursor;
  /** Gets each page read, in committed order. */
  deliver(events: NodeFederationEvent[]): void;
  log(line: string): void;
  everyMs?: number;
  stallLogAfterMs?: number;
  clock?: () => number;
}

export interface EventTailCounters {
  /** Queries run. */
  reads: number;
  /** Events read and handed over. */
  events: number;
  /** Since when the horizon has been held (ms), while it is; else null. */
  stalledSince: number | null;
}

export class FederationEventTail {
  readonly counters: EventTailCounters = { reads: 0, events: 0, stalledSince: null };
  private cursor: CommittedCursor;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private reading: Promise<void> = Promise.resolve();
  private stopped = false;
  private failing = false;
  private stallLogged = false;

  constructor(private readonly options: EventTailOptions) {
    this.cursor = options.after;
    this.schedule(0);
  }

  /** Stops polling; resolves once a read under way has finished (and handed over what it read). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.reading;
  }

  private schedule(inMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.reading = this.readToEnd().finally(() => this.schedule(this.options.everyMs ?? TAIL_EVERY_MS));
    }, inMs);
    this.timer.unref?.();
  }

  private async readToEnd(): Promise<void> {
    const { store, deliver, log } = this.options;
    try {
      for (;;) {
        const page = await store.federationEvents.committed({ after: this.cursor, limit: PAGE });
        this.counters.reads++;
        if (this.stopped) return;
        this.watchHorizon(page.cursor === this.cursor && page.heldBack === true);
        this.cursor = page.cursor;
        if (page.events.length > 0) {
          this.counters.events += page.events.length;
          deliver(page.events.map((stored) => stored.event));
        }
        if (page.events.length < PAGE) break;
      }
      if (this.failing) log("reading the federation events from the registry works again");
      this.failing = false;
    } catch (error) {
      if (!this.failing) log(`reading the federation events from the registry failed (tried again from where it stopped): ${(error as Error).message}`);
      this.failing = true;
    }
  }

  /** Notes whether this read found the horizon where the last left it, held by a running transaction. */
  private watchHorizon(held: boolean): void {
    const { log, clock = Date.now, stallLogAfterMs = STALL_LOG_AFTER_MS } = this.options;
    const now = clock();
    if (!held) {
      if (this.stallLogged) log(`the federation event tail reads on again (its horizon was held ${Math.round((now - this.counters.stalledSince!) / 1000)} s)`);
      this.stallLogged = false;
      this.counters.stalledSince = null;
      return;
    }
    this.counters.stalledSince ??= now;
    if (this.stallLogged || now - this.counters.stalledSince < stallLogAfterMs) return;
    this.stallLogged = true;
    log(
      `the federation event tail is stalled: its horizon has not moved for ${Math.round((now - this.counters.stalledSince) / 1000)} s, held by a transaction still open on the PostgreSQL server ` +
        `(see pg_stat_activity, state 'idle in transaction'); the federation engine gets no new events until it ends`,
    );
  }
}
