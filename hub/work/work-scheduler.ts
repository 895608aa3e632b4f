// The hub's work scheduler: on every tick (and at once when kicked by a
// submit, a cancel or a finished package) it expires packages past their
// deadline, takes back leases that ran out or whose node went offline, and
// leases queued packages to nodes (placement.ts), then offers each lease to
// its node over MQTT. The time from an offer to the node's first progress
// is that node's round trip, smoothed, for the latency strategy. All of a tick's decisions are made inside one
// registry write, on what the registry holds at that moment, so a progress
// report or a result committed just before is never overridden. Progress
// and results from nodes come here from ingest and are applied fenced by
// attempt number (the store refuses, and records, any other). Ticks run on
// the leading replica only (hub/replicas/leadership.ts): replicas sharing the
// registry would otherwise place and take back the same packages at once;
// progress and results are applied by whichever replica receives them.
import type { WorkOfferMessage, WorkProgressMessage, WorkResultMessage } from "../../protocol/work-messages.ts";
import { deliveryOf, nodeTopic } from "../../protocol/topics.ts";
import type { HubContext } from "../hub-context.ts";
import type { StoreTransaction } from "../store/hub-store.ts";
import { chooseNode, type NodeSlots } from "./placement.ts";
import { NOBODY_TOLD, runAfterCommit, transitionTelling, type OnWorkFinished } from "./work-finished.ts";
import { IN_FLIGHT_STATES, type WorkChange, type WorkPackage } from "./work-model.ts";

/** Weight of a new round-trip sample in a node's smoothed value (an exponentially weighted mean, as TCP's SRTT uses 1/8). */
export const RTT_SMOOTHING = 0.125;

/** hub_settings key of the round robin cursor: the node the last round robin placement chose. */
export const ROUND_ROBIN_CURSOR_KEY = "work_round_robin_cursor";

/** Offers whose round trip is being timed at most. */
const MAX_OFFERS_TIMED = 10_000;

interface Offer {
  node: string;
  message: WorkOfferMessage;
}

export class WorkScheduler {
  private timer: ReturnType<typeof setInterval> | null = null;
  private ticking: Promise<void> | null = null;
  private tickAgain = false;
  /** Set by stop(): a kick after it (ingest's onBirth during the hub's stop, a leadership change) runs nothing. */
  private stopped = false;
  /** Ticks since start; what tests and the benchmark wait on. */
  ticks = 0;
  /** Each node's smoothed round-trip time (offer published to its first progress), ms; kept in memory, measured again after a restart. */
  private readonly rttMs = new Map<string, number>();
  /** When each offer in flight was published, by `id#attempt`, until its first progress. */
  private readonly offeredAt = new Map<string, { node: string; at: number }>();

  private constructor(
    private readonly hub: HubContext,
    private roundRobinCursor: string | null,
    private readonly onFinished: OnWorkFinished,
  ) {}

  /** `onFinished` is told of each package that finishes here (a result, a deadline, attempts used up), inside its transaction. */
  static async start(hub: HubContext, intervalMs: number, onFinished: OnWorkFinished = NOBODY_TOLD): Promise<WorkScheduler> {
    const scheduler = new WorkScheduler(hub, (await hub.store.hubValues.get(ROUND_ROBIN_CURSOR_KEY)) ?? null, onFinished);
    scheduler.timer = setInterval(() => scheduler.kick(), intervalMs);
    hub.leadership.onChange((leading) => leading && scheduler.kick());
    scheduler.kick();
    return scheduler;
  }

  /** Runs a tick soon if this replica leads; ticks never overlap, and a kick during one runs another after it. */
  kick(): void {
    if (this.stopped || !this.hub.leadership.leads()) return;
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    this.ticking = this.tick()
      .catch((error) => this.hub.log(`work scheduling failed (tried again next tick): ${(error as Error).message}`))
      .finally(() => {
        this.ticking = null;
        if (this.tickAgain) {
          this.tickAgain = false;
          this.kick();
        }
      });
  }

  /** Resolves once no tick runs (after stop, or for a test to look at a settled state). */
  async settled(): Promise<void> {
    while (this.ticking) await this.ticking;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.tickAgain = false;
    await this.settled();
  }

  /** The smoothed round-trip times measured so far, ms by node (GET /api/federation/work/summary). */
  roundTrips(): Record<string, number> {
    return Object.fromEntries([...this.rttMs].map(([node, ms]) => [node, Math.round(ms * 10) / 10]));
  }

  /** A node's progress: renews the lease of its current attempt. Resolves with why it was refused, or null. */
  onProgress(nodeId: string, message: WorkProgressMessage, now: number): Promise<string | null> {
    this.measureRoundTrip(nodeId, `${message.id}#${message.attempt}`);
    // Called synchronously from ingest, so this write is queued before the node's commit that precedes its PUBACK.
    return this.hub.store.write(async (tx) => {
      const pkg = await tx.work.get(message.id);
      const notYours = heldByAnother(pkg, message.attempt, nodeId);
      if (notYours) return notYours;
      const change: WorkChange = { to: "running", attempt: message.attempt, progress: message.progress, leaseExpiresAt: now + pkg!.leaseMs, cause: `progress ${message.progress}%` };
      const outcome = await tx.work.transition(message.id, change, now);
      return outcome.ok ? null : `progress of ${message.id} attempt ${message.attempt} refused (${outcome.reason})`;
    });
  }

  /** A node's result: accepted once, for the current attempt only. Resolves with why it was refused, or null. */
  async onResult(nodeId: string, message: WorkResultMessage, now: number): Promise<string | null> {
    const afterCommit: Array<() => void> = [];
    const refusal = await this.hub.store.write(async (tx) => {
      const notYours = heldByAnother(await tx.work.get(message.id), message.attempt, nodeId);
      if (notYours) return notYours;
      const change: WorkChange = message.ok
        ? { to: "succeeded", attempt: message.attempt, result: message.result!, cause: `result from ${nodeId}` }
        : { to: "failed", attempt: message.attempt, error: message.error!, cause: `failure from ${nodeId}` };
      const outcome = await transitionTelling(tx, message.id, change, now, this.onFinished, afterCommit);
      return outcome.ok ? null : `result of ${message.id} attempt ${message.attempt} refused (${outcome.reason})`;
    });
    runAfterCommit(afterCommit, this.hub.log);
    if (refusal === null) this.kick(); // a slot came free
    return refusal;
  }

  private measureRoundTrip(nodeId: string, offer: string): void {
    const sent = this.offeredAt.get(offer);
    if (sent?.node !== nodeId) return; // not timed, or not this node's offer
    this.offeredAt.delete(offer);
    const sample = performance.now() - sent.at;
    const smoothed = this.rttMs.get(nodeId);
    this.rttMs.set(nodeId, smoothed === undefined ? sample : smoothed + RTT_SMOOTHING * (sample - smoothed));
  }

  private async tick(): Promise<void> {
    this.ticks++;
    // Most ticks find nothing to do: a read, and no registry write (each write is a commit the metrics time).
    if ((await this.hub.store.work.activeCount()) === 0) return;
    const now = this.hub.clock();
    const afterCommit: Array<() => void> = [];
    const offers = await this.hub.store.write((tx) => this.schedule(tx, now, afterCommit));
    runAfterCommit(afterCommit, this.hub.log);
    await Promise.all(offers.map((offer) => this.offer(offer)));
  }

  private async schedule(tx: StoreTransaction, now: number, afterCommit: Array<() => void>): Promise<Offer[]> {
    const transition = (id: string, change: WorkChange) => transitionTelling(tx, id, change, now, this.onFinished, afterCommit);
    const nodes = new Map<string, NodeSlots>();
    for (const node of this.hub.fleet.all()) {
      nodes.set(node.nodeId, {
        nodeId: node.nodeId,
        capabilities: node.capabilities,
        healthy: node.health === "healthy",
        slots: node.live.workSlots ?? 0,
        inFlight: 0,
        load1: node.live.load?.[0] ?? null,
        rttMs: this.rttMs.get(node.nodeId) ?? null,
      });
    }
    const queued: WorkPackage[] = [];
    for (const pkg of await tx.work.active()) {
      if (pkg.deadlineAt !== null && now >= pkg.deadlineAt) {
        await transition(pkg.id, { to: "expired", cause: "deadline passed" });
      } else if (pkg.state === "queued" && pkg.target !== "any" && !nodes.has(pkg.target)) {
        // Nobody else may run it (a fleet job's node, or a named one): it would wait for ever.
        await transition(pkg.id, { to: "failed", error: `its target node ${pkg.target} was removed`, cause: "target removed" });
      } else if (pkg.state === "queued") {
        queued.push(pkg);
      } else if (IN_FLIGHT_STATES.includes(pkg.state)) {
        const holder = nodes.get(pkg.node!);
        const takenBack = this.takeBackCause(pkg, holder, now);
        if (takenBack) {
          const outcome = await transition(pkg.id, { to: "queued", attempt: pkg.attempt, cause: takenBack });
          if (outcome.ok && outcome.package.state === "queued") queued.push(outcome.package);
        } else if (holder) {
          holder.inFlight++;
        }
      }
    }
    const offers: Offer[] = [];
    const cursorBefore = this.roundRobinCursor;
    const fleet = [...nodes.values()];
    for (const pkg of queued) {
      const node = chooseNode(pkg, fleet, this.roundRobinCursor);
      if (!node) continue;
      const leaseExpiresAt = now + pkg.leaseMs;
      const outcome = await tx.work.transition(pkg.id, { to: "leased", node: node.nodeId, leaseExpiresAt, cause: `placed by ${pkg.strategy}` }, now);
      if (!outcome.ok) continue;
      node.inFlight++;
      if (pkg.strategy === "round_robin") this.roundRobinCursor = node.nodeId;
      offers.push({ node: node.nodeId, message: offerOf(outcome.package, now) });
    }
    if (this.roundRobinCursor !== cursorBefore && this.roundRobinCursor !== null) await tx.hubValues.put(ROUND_ROBIN_CURSOR_KEY, this.roundRobinCursor);
    return offers;
  }

  /** Why a package in flight goes back to the queue now, or null if its holder keeps it. */
  private takeBackCause(pkg: WorkPackage, holder: NodeSlots | undefined, now: number): string | null {
    if (!holder) return "its node was removed";
    const node = this.hub.fleet.get(pkg.node!)!;
    // A kind the node resumes after a restart keeps its lease while the node is away: it comes back to it.
    if (node.health === "offline" && !node.live.resumableKinds?.includes(pkg.kind)) return "its node went offline";
    // A hub that was down heard no progress: every lease gets one full length from the hub's start.
    const leaseEnd = Math.max(pkg.leaseExpiresAt ?? 0, this.hub.startedAt + pkg.leaseMs);
    return now >= leaseEnd ? "lease expired" : null;
  }

  private async offer({ node, message }: Offer): Promise<void> {
    // Bounded: an offer never answered (a dead node) is forgotten with the oldest.
    if (this.offeredAt.size >= MAX_OFFERS_TIMED) this.offeredAt.delete(this.offeredAt.keys().next().value!);
    this.offeredAt.set(`${message.id}#${message.attempt}`, { node, at: performance.now() });
    try {
      await this.hub.publish(nodeTopic(node, "work/offer"), JSON.stringify(message), deliveryOf("work/offer"));
    } catch (error) {
      // Not lost: the lease runs out and the package is placed again.
      this.hub.log(`offering ${message.id} to ${node} failed (it goes back to the queue when its lease runs out): ${(error as Error).message}`);
    }
  }
}

/**
 * Why a message about attempt `attempt` of `pkg` from `nodeId` is not even
 * looked at, or null. A message about an older attempt goes on to the store,
 * which refuses and records it (a late result); one naming the current
 * attempt must come from its holder.
 */
function heldByAnother(pkg: WorkPackage | undefined, attempt: number, nodeId: string): string | null {
  if (!pkg) return "no such work package";
  if (attempt === pkg.attempt && pkg.node !== nodeId) return `attempt ${attempt} of ${pkg.id} is leased to ${pkg.node}, not ${nodeId}`;
  return null;
}

function offerOf(pkg: WorkPackage, now: number): WorkOfferMessage {
  return { id: pkg.id, attempt: pkg.attempt, kind: pkg.kind, payload: pkg.payload, lease_s: pkg.leaseMs / 1000, deadline_at: pkg.deadlineAt, ts: now };
}
