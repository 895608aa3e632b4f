// The registry's change feed (issue 16), for hub replicas sharing one
// PostgreSQL registry: each keeps parts of it in memory (the fleet, the
// desired policies), so each tells the others what it changed. A writer
// announces a change inside the transaction that makes it (pg_notify: sent
// when it commits, never if it rolls back); every other replica hears it on
// its listening connection and its handler reads what changed from the
// registry. Payloads stay small, "<origin> <kind>:<id> ..." (node:pi-01,
// decision:dec_..., policy:fleet); the origin (hub id and a per-process
// suffix) lets a replica skip its own.
//
// PostgreSQL holds a global lock from the commit of a transaction that
// notified until that commit is flushed, so notifying transactions commit one
// at a time (bench replica-reads: 50 writers in flight halve). Changes nothing
// reads right after, many a second (decision acks, for the live stream), are
// therefore announced after their commit instead, gathered for
// ANNOUNCE_BATCH_MS into one notification (announceCommitted).
// Notifications sent while the listening connection was down are lost: after
// it reconnects (the client does) the reconnect handlers reload everything
// cached.
//
// Read-after-write: one connection receives notifications in commit order,
// so a nonce sent on the replica's own channel coming back means every change
// committed before it was sent has been heard; barrier() waits for that, and
// for the handling of those changes to finish.
import { createHash, randomBytes } from "node:crypto";
import type { RegistryNotifications, StoreTransaction } from "../store/hub-store.ts";

export const CHANGE_KINDS = ["node", "decision", "policy"] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface RegistryChange {
  /** node: a node registered, re-registered or removed; decision: issued or acknowledged; policy: a target's desired policy changed. */
  kind: ChangeKind;
  /** The node id, decision id, or policy target ("fleet" or a node id). */
  id: string;
}

/** How long a read waits for the replica to catch up before it answers from what it has. */
export const BARRIER_TIMEOUT_MS = 2000;
/** How long changes announced after their commit are gathered into one notification. */
export const ANNOUNCE_BATCH_MS = 50;
/** A notification's payload stays under PostgreSQL's 8000 bytes. */
const MAX_PAYLOAD_BYTES = 7900;
/** PostgreSQL's identifier limit, which channel names share. */
const MAX_CHANNEL_BYTES = 63;

type ChangeHandler = (id: string) => Promise<void> | void;

interface PendingBarrier {
  promise: Promise<boolean>;
  resolve(caughtUp: boolean): void;
}

export class ChangeFeed {
  private readonly handlers = new Map<ChangeKind, ChangeHandler>();
  private readonly reconnectHandlers: Array<() => Promise<void>> = [];
  /** Per change ("kind:id"), the last handling scheduled: a later one of the same change runs after it. */
  private readonly handling = new Map<string, Promise<void>>();
  /** Changes whose scheduled handling has not started: another notification of one adds nothing (it reads the latest). */
  private readonly notStarted = new Set<string>();
  /** Reloads after a reconnect still running. */
  private readonly reloading = new Set<Promise<void>>();
  /** The barrier reads join until its nonce is sent. */
  private nextBarrier: PendingBarrier | null = null;
  /** Barriers sent, by nonce, until their nonce comes back (or they time out). */
  private readonly sentBarriers = new Map<string, PendingBarrier>();
  private listens = 0;
  /** Whether the last barrier timed out: logged once until one comes back again. */
  private stalled = false;
  /** Changes heard before the handlers were all set (the hub still starting): handled at ready(). */
  private early: RegistryChange[] | null = [];
  private readonly subscriptions: Array<{ unlisten(): Promise<void> }> = [];
  /** Changes committed, to announce together ("kind:id", each once). */
  private readonly committed = new Set<string>();
  private committedTimer: ReturnType<typeof setTimeout> | null = null;
  private committedSent: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly notifications: RegistryNotifications,
    /** Who this replica is on the feed: its hub id and a suffix of this process. */
    readonly origin: string,
    /** Where every replica of the registry announces and listens. */
    readonly channel: string,
    /** This replica's own channel: its barriers' nonces. */
    private readonly barrierChannel: string,
    private readonly log: (line: string) => void,
    private readonly barrierTimeoutMs: number,
  ) {}

  /**
   * Listens on the registry's channel and this replica's own; resolves once
   * both listen. Changes heard are kept until ready().
   */
  static async start(
    notifications: RegistryNotifications,
    hubId: string,
    log: (line: string) => void,
    options: { barrierTimeoutMs?: number } = {},
  ): Promise<ChangeFeed> {
    const suffix = randomBytes(6).toString("hex");
    const feed = new ChangeFeed(
      notifications,
      `${hubId}/${suffix}`,
      channelName(`edgefed.changes.${notifications.registryName}`),
      `edgefed.barrier.${suffix}`,
      log,
      options.barrierTimeoutMs ?? BARRIER_TIMEOUT_MS,
    );
    feed.subscriptions.push(
      await notifications.listen(feed.channel, (payload) => feed.heard(payload), () => feed.listening()),
      await notifications.listen(feed.barrierChannel, (nonce) => feed.barrierBack(nonce), () => {}),
    );
    return feed;
  }

  /** Inside the write transaction that makes `changes` (one notification): the other replicas hear of them once it commits. */
  announce(tx: StoreTransaction, ...changes: RegistryChange[]): Promise<void> {
    return tx.notify(this.channel, [this.origin, ...changes.map(({ kind, id }) => `${kind}:${id}`)].join(" "));
  }

  /**
   * A change already committed, for what nothing reads right after (the live
   * stream's acks): announced with the others of the next ANNOUNCE_BATCH_MS
   * in one notification. Lost if the process dies first.
   */
  announceCommitted(change: RegistryChange): void {
    this.committed.add(`${change.kind}:${change.id}`);
    this.committedTimer ??= setTimeout(() => this.sendCommitted(), ANNOUNCE_BATCH_MS);
  }

  private sendCommitted(): Promise<unknown> {
    if (this.committedTimer) clearTimeout(this.committedTimer);
    this.committedTimer = null;
    const payloads: string[] = [];
    let payload = this.origin;
    for (const change of this.committed) {
      if (Buffer.byteLength(payload) + Buffer.byteLength(change) + 1 > MAX_PAYLOAD_BYTES) {
        payloads.push(payload);
        payload = this.origin;
      }
      payload += ` ${change}`;
    }
    if (payload !== this.origin) payloads.push(payload);
    this.committed.clear();
    this.committedSent = Promise.all(
      payloads.map((each) => this.notifications.notify(this.channel, each).catch((error: Error) => this.log(`replica change feed: announcing committed changes failed: ${error.message}`))),
    );
    return this.committedSent;
  }

  /** Calls `handler` with the id of each change of `kind` another replica announces (one handler a kind). */
  on(kind: ChangeKind, handler: ChangeHandler): void {
    this.handlers.set(kind, handler);
  }

  /** The handlers are set: the changes heard since start() are handled now, and each later one as it comes. */
  ready(): void {
    const early = this.early ?? [];
    this.early = null;
    for (const change of early) this.take(change);
  }

  /** Calls `handler` after each reconnect of the listening connection: what was announced meanwhile was lost. */
  onReconnect(handler: () => Promise<void>): void {
    this.reconnectHandlers.push(handler);
  }

  /**
   * Resolves once every change committed before this call has been heard and
   * handled: true, or false after the timeout (the read then answers from
   * what the replica has). Calls within one turn share one round trip.
   */
  barrier(): Promise<boolean> {
    if (this.nextBarrier) return this.nextBarrier.promise;
    let resolve!: (caughtUp: boolean) => void;
    const barrier: PendingBarrier = { promise: new Promise<boolean>((r) => (resolve = r)), resolve: (caughtUp) => resolve(caughtUp) };
    this.nextBarrier = barrier;
    // Reads that begin after the nonce is sent need a barrier of their own: it may be sent before their write committed.
    queueMicrotask(() => {
      this.nextBarrier = null;
      const nonce = randomBytes(9).toString("base64url");
      this.sentBarriers.set(nonce, barrier);
      const timer = setTimeout(() => {
        if (!this.sentBarriers.delete(nonce)) return;
        if (!this.stalled) this.log(`replica change feed: no answer on the listening connection within ${this.barrierTimeoutMs} ms; reads answer from what this replica has (logged again once it answers)`);
        this.stalled = true;
        barrier.resolve(false);
      }, this.barrierTimeoutMs);
      void barrier.promise.then(() => clearTimeout(timer));
      this.notifications.notify(this.barrierChannel, nonce).catch((error: Error) => {
        this.log(`replica change feed: sending a read barrier failed: ${error.message}`);
        if (this.sentBarriers.delete(nonce)) barrier.resolve(false);
      });
    });
    return barrier.promise;
  }

  /** Sends what is gathered, stops listening, then waits for the handling and reloads under way (they read the store, closed next). */
  async stop(): Promise<void> {
    await this.committedSent;
    if (this.committed.size > 0) await this.sendCommitted();
    await Promise.allSettled(this.subscriptions.splice(0).map((subscription) => subscription.unlisten()));
    for (const barrier of this.sentBarriers.values()) barrier.resolve(false);
    this.sentBarriers.clear();
    while (this.handling.size > 0 || this.reloading.size > 0) await this.inFlight();
  }

  /** What everything heard so far still has to do. */
  private inFlight(): Promise<unknown> {
    return Promise.allSettled([...this.handling.values(), ...this.reloading]);
  }

  private barrierBack(nonce: string): void {
    const barrier = this.sentBarriers.get(nonce);
    if (!barrier) return; // timed out already
    this.sentBarriers.delete(nonce);
    if (this.stalled) this.log("replica change feed: the listening connection answers again");
    this.stalled = false;
    void this.inFlight().then(() => barrier.resolve(true));
  }

  private listening(): void {
    if (++this.listens === 1) return; // the first LISTEN: the replica loaded everything at its start
    this.log("replica change feed: listening again after a reconnect; reloading what this replica caches from the registry");
    for (const handler of this.reconnectHandlers) {
      const reload = handler()
        .catch((error: Error) => this.log(`replica change feed: reloading after a reconnect failed: ${error.message}`))
        .finally(() => this.reloading.delete(reload));
      this.reloading.add(reload);
    }
  }

  private heard(payload: string): void {
    const heard = parseChanges(payload);
    if (!heard) return this.log(`replica change feed: ignored a notification it cannot read: ${JSON.stringify(payload.slice(0, 100))}`);
    if (heard.origin === this.origin) return; // our own changes: already in memory
    if (this.early) this.early.push(...heard.changes);
    else for (const change of heard.changes) this.take(change);
  }

  /** Handles a change after those of the same kind and id heard before it. */
  private take(change: RegistryChange): void {
    const handler = this.handlers.get(change.kind);
    if (!handler) return;
    const key = `${change.kind}:${change.id}`;
    if (this.notStarted.has(key)) return;
    this.notStarted.add(key);
    const before = this.handling.get(key) ?? Promise.resolve();
    const run: Promise<void> = before
      .then(() => {
        this.notStarted.delete(key);
        return handler(change.id);
      })
      .catch((error: Error) => this.log(`replica change feed: taking ${key} failed: ${error.message}`))
      .finally(() => {
        if (this.handling.get(key) === run) this.handling.delete(key);
      });
    this.handling.set(key, run);
  }
}

/** "<origin> <kind>:<id> [<kind>:<id> ...]", or null if any part is not that. */
export function parseChanges(payload: string): { origin: string; changes: RegistryChange[] } | null {
  const [origin, ...parts] = payload.split(" ");
  if (!origin || parts.length === 0) return null;
  const changes: RegistryChange[] = [];
  for (const part of parts) {
    const colon = part.indexOf(":");
    const kind = part.slice(0, colon);
    const id = part.slice(colon + 1);
    if (colon < 0 || !(CHANGE_KINDS as readonly string[]).includes(kind) || id === "") return null;
    changes.push({ kind: kind as ChangeKind, id });
  }
  return { origin, changes };
}

/** `name`, or a digest of it when it is longer than PostgreSQL allows (a long schema name). */
function channelName(name: string): string {
  if (Buffer.byteLength(name) <= MAX_CHANNEL_BYTES) return name;
  return `edgefed.changes.${createHash("sha256").update(name).digest("hex").slice(0, 40)}`;
}
