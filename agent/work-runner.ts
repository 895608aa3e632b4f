// Part: runs the work packages the hub leases to this node (issue 15). An
// offer (work/offer) names the package, its attempt and its lease; the
// runner takes it if it has a free slot (EDGEFED_WORK_SLOTS) and knows the
// kind (work-kinds.ts), says progress at once and every third of the lease
// (which renews it), and queues the result when the kind returns. Progress
// and results go through the outbox, so a result made while the broker is
// away is delivered after reconnect. Each attempt taken is a row in
// work_jobs, closed in the transaction that queues its result: an agent
// that restarts mid-job finds the row open and reports the job failed, or,
// for a resumable kind whose lease still holds (renewed_at, kept with each
// renewal), runs it again from the start under the same attempt.
import { decodeTopic, type MessageOf } from "../protocol/topics.ts";
import { MAX_WORK_RESULT_BYTES, type WorkOfferMessage } from "../protocol/work-messages.ts";
import type { SqliteDatabase } from "../lib/sqlite.ts";
import type { AgentPart } from "./agent-part.ts";
import { outboxMessage, type Outbox } from "./outbox.ts";
import { BadWorkPayload, resumableKinds, WORK_KIND_TABLE, type WorkKind, type WorkNode } from "./work-kinds.ts";

export interface WorkRunnerOptions {
  nodeId: string;
  db: SqliteDatabase;
  outbox: Outbox;
  /** Something was queued: publish it if online. */
  kick(): void;
  slots: number;
  node: WorkNode;
  /** The kinds it runs (default WORK_KIND_TABLE). */
  kinds?: Readonly<Record<string, WorkKind>>;
  log(line: string): void;
}

export const RESTARTED_MID_JOB = "the node restarted while running it";

/** A row of work_jobs left open by a run that stopped. */
interface OpenJob {
  package_id: string;
  attempt: number;
  kind: string;
  /** The offer as taken (JSON); null in rows from before step 7. */
  offer: string | null;
  renewed_at: number | null;
}

export class WorkRunner implements AgentPart {
  private readonly kinds: Readonly<Record<string, WorkKind>>;
  /** Renewal timers of the attempts running now, by `id#attempt`. */
  private readonly running = new Map<string, ReturnType<typeof setInterval>>();
  private stopped = false;

  constructor(private readonly options: WorkRunnerOptions) {
    this.kinds = options.kinds ?? WORK_KIND_TABLE;
  }

  /** Resumes what a previous run left open of a resumable kind while its lease holds; reports the rest failed. */
  start(): void {
    this.stopped = false;
    const open = this.options.db.prepare("SELECT package_id, attempt, kind, offer, renewed_at FROM work_jobs WHERE finished_at IS NULL").all<OpenJob>();
    let resumed = 0;
    for (const job of open) {
      const offer = this.resumable(job, Date.now());
      if (offer) {
        this.take(offer, "resumed");
        void this.run(offer, this.kinds[offer.kind]!);
        resumed++;
      } else {
        this.finish(job.package_id, job.attempt, { ok: false, error: RESTARTED_MID_JOB });
      }
    }
    if (open.length > 0) this.options.log(`${open.length} work package(s) were running when the agent stopped: ${resumed} resumed, ${open.length - resumed} reported failed`);
  }

  /** The offer of an interrupted job to run again: its kind is resumable, its lease and deadline hold, a slot is free. */
  private resumable(job: OpenJob, now: number): WorkOfferMessage | null {
    const kind = Object.hasOwn(this.kinds, job.kind) ? this.kinds[job.kind] : undefined;
    if (!kind?.resumable || job.offer === null || job.renewed_at === null || this.running.size >= this.options.slots) return null;
    const offer = JSON.parse(job.offer) as WorkOfferMessage;
    const leaseHolds = now < job.renewed_at + offer.lease_s * 1000;
    const beforeDeadline = offer.deadline_at === null || now < offer.deadline_at;
    return leaseHolds && beforeDeadline ? offer : null;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.running.values()) clearInterval(timer);
    this.running.clear();
  }

  /** The resumable kinds it runs (said in the birth). */
  get resumableKinds(): string[] {
    return resumableKinds(this.kinds);
  }

  get busy(): number {
    return this.running.size;
  }

  offer(payload: Buffer): void {
    const decoded = decodeTopic("work/offer", payload);
    if (!decoded.ok) return this.options.log(`work offer refused: ${decoded.error}`);
    const offer = decoded.value;
    if (this.stopped) return; // not taken: the lease runs out and the hub places it again
    const known = this.options.db.prepare("SELECT 1 FROM work_jobs WHERE package_id = ? AND attempt = ?").get(offer.id, offer.attempt);
    if (known) return; // a redelivered offer
    const kind = Object.hasOwn(this.kinds, offer.kind) ? this.kinds[offer.kind]! : undefined;
    if (!kind) return this.refuse(offer, `no handler for kind ${offer.kind} on this node (kinds: ${Object.keys(this.kinds).join(", ")})`);
    if (this.running.size >= this.options.slots) return this.refuse(offer, `no free work slot (${this.options.slots} in use)`);
    this.take(offer, "taken");
    void this.run(offer, kind);
  }

  /**
   * Records the attempt (taken) or its renewal (resumed) and says progress 0
   * (the hub marks it running, the lease renewed), in one transaction; then
   * renews every third of the lease, each renewal kept in renewed_at.
   */
  private take(offer: WorkOfferMessage, how: "taken" | "resumed"): void {
    const now = Date.now();
    const { db, outbox, nodeId } = this.options;
    outbox.enqueue([this.progressMessage(offer, 0, now)], () => {
      if (how === "taken") {
        db.prepare("INSERT INTO work_jobs (package_id, attempt, kind, started_at, offer, renewed_at) VALUES (?, ?, ?, ?, ?, ?)").run(offer.id, offer.attempt, offer.kind, now, JSON.stringify(offer), now);
      } else this.renewed(offer, now);
    });
    const renewEveryMs = Math.max(200, (offer.lease_s * 1000) / 3);
    this.running.set(key(offer.id, offer.attempt), setInterval(() => {
      const at = Date.now();
      outbox.enqueue([this.progressMessage(offer, 0, at)], () => this.renewed(offer, at));
      this.options.kick();
    }, renewEveryMs));
    this.options.kick();
    this.options.log(`work ${offer.id} (${offer.kind}) attempt ${offer.attempt} ${how} for ${nodeId}`);
  }

  private renewed(offer: WorkOfferMessage, at: number): void {
    this.options.db.prepare("UPDATE work_jobs SET renewed_at = ? WHERE package_id = ? AND attempt = ?").run(at, offer.id, offer.attempt);
  }

  private async run(offer: WorkOfferMessage, kind: WorkKind): Promise<void> {
    let outcome: { ok: true; result: Record<string, unknown> } | { ok: false; error: string };
    try {
      await Promise.resolve(); // progress 0 is queued and kicked before a synchronous kind holds the thread
      const result = await kind.run(offer.payload, this.options.node, { offeredAt: offer.ts, now: Date.now() });
      const size = JSON.stringify(result).length;
      outcome = size <= MAX_WORK_RESULT_BYTES ? { ok: true, result } : { ok: false, error: `${offer.kind}: result of ${size} bytes, over ${MAX_WORK_RESULT_BYTES}` };
    } catch (error) {
      const message = error instanceof BadWorkPayload ? error.message : `failed: ${(error as Error).message}`;
      outcome = { ok: false, error: `${offer.kind}: ${message}`.slice(0, 1000) };
    }
    const timer = this.running.get(key(offer.id, offer.attempt));
    if (timer === undefined) return; // stopped meanwhile: the next start resumes it or reports it failed
    clearInterval(timer);
    this.running.delete(key(offer.id, offer.attempt));
    this.finish(offer.id, offer.attempt, outcome);
  }

  /** An offer not taken: its failure, at once (no row: nothing ran). */
  private refuse(offer: WorkOfferMessage, error: string): void {
    this.options.log(`work ${offer.id} refused: ${error}`);
    this.options.outbox.enqueue([this.resultMessage(offer.id, offer.attempt, { ok: false, error })]);
    this.options.kick();
  }

  /** Queues the result and closes the attempt's row in one transaction. */
  private finish(id: string, attempt: number, outcome: { ok: true; result: Record<string, unknown> } | { ok: false; error: string }): void {
    const { db, outbox } = this.options;
    outbox.enqueue([this.resultMessage(id, attempt, outcome)], () => {
      db.prepare("UPDATE work_jobs SET finished_at = ? WHERE package_id = ? AND attempt = ?").run(Date.now(), id, attempt);
    });
    this.options.kick();
  }

  private progressMessage(offer: WorkOfferMessage, progress: number, now: number) {
    const message: MessageOf<"work/progress"> = { id: offer.id, attempt: offer.attempt, progress, ts: now };
    return outboxMessage(this.options.nodeId, "work/progress", message, now);
  }

  private resultMessage(id: string, attempt: number, outcome: { ok: true; result: Record<string, unknown> } | { ok: false; error: string }) {
    const now = Date.now();
    const message: MessageOf<"work/result"> = outcome.ok ? { id, attempt, ok: true, result: outcome.result, ts: now } : { id, attempt, ok: false, error: outcome.error, ts: now };
    return outboxMessage(this.options.nodeId, "work/result", message, now);
  }
}

function key(id: string, attempt: number): string {
  return `${id}#${attempt}`;
}
