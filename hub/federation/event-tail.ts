// The federation events every hub replica recorded, read back from the
// shared registry in committed order (FederationEventReads.committed), so the
// one replica that runs the federation engine sees the whole fleet's events,
// not only its share of the broker's traffic. It polls: every `everyMs` it
// reads pages until one is short and hands them over, oldest first. A failed
// read is logged (once until a read succeeds again) and tried again from the
// same cursor: nothing is lost or read twice.
import type { CommittedCursor, HubStore, NodeFederationEvent } from "../store/hub-store.ts";

/** How often the tail looks for newly committed events: the engine's input lag on a shared registry is about this. */
export const TAIL_EVERY_MS = 100;
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
}

export interface EventTailCounters {
  /** Queries run. */
  reads: number;
  /** Events read and handed over. */
  events: number;
}

export class FederationEventTail {
  readonly counters: EventTailCounters = { reads: 0, events: 0 };
  private cursor: CommittedCursor;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private reading: Promise<void> = Promise.resolve();
  private stopped = false;
  private failing = false;

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
}
