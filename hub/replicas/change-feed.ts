// The registry's change feed (issue 16), for hub replicas sharing one
// PostgreSQL registry: each keeps parts of it in memory (the fleet, the
// desired policies), so each tells the others what it changed. A writer
// announces a change inside the transaction that makes it (pg_notify: sent
// when it commits, never if it rolls back); every other replica hears it on
// its listening connection and its handler reads what changed from the
// registry. Payloads stay small, "<origin> <kind>:<id>" (node:pi-01,
// decision:dec_..., policy:fleet); the origin (hub id and a per-process
// suffix) lets a replica skip its own. Notifications sent while the
// listening connection was down are lost: after it reconnects (the client
// does) the reconnect handlers reload everything cached.
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
  private early: Array<RegistryChange & { origin: string }> | null = [];
  private readonly subscriptions: Array<{ unlisten(): Promise<void> }> = [];

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

  /** Inside the write transaction that makes `change`: the other replicas hear of it once it commits. */
  announce(tx: StoreTransaction, change: RegistryChange): Promise<void> {
    return tx.notify(this.channel, `${this.origin} ${change.kind}:${change.id}`);
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

  async stop(): Promise<void> {
    await Promise.allSettled(this.subscriptions.splice(0).map((subscription) => subscription.unlisten()));
    for (const barrier of this.sentBarriers.values()) barrier.resolve(false);
    this.sentBarriers.clear();
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
    const change = parseChange(payload);
    if (!change) return this.log(`replica change feed: ignored a notification it cannot read: ${JSON.stringify(payload.slice(0, 100))}`);
    if (change.origin === this.origin) return; // our own change: already in memory
    if (this.early) this.early.push(change);
    else this.take(change);
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

/** "<origin> <kind>:<id>", or null. */
export function parseChange(payload: string): (RegistryChange & { origin: string }) | null {
  const space = payload.indexOf(" ");
  const colon = payload.indexOf(":", space);
  if (space <= 0 || colon < 0) return null;
  const kind = payload.slice(space + 1, colon);
  const id = payload.slice(colon + 1);
  if (!(CHANGE_KINDS as readonly string[]).includes(kind) || id === "") return null;
  return { origin: payload.slice(0, space), kind: kind as ChangeKind, id };
}

/** `name`, or a digest of it when it is longer than PostgreSQL allows (a long schema name). */
function channelName(name: string): string {
  if (Buffer.byteLength(name) <= MAX_CHANNEL_BYTES) return name;
  return `edgefed.changes.${createHash("sha256").update(name).digest("hex").slice(0, 40)}`;
}
