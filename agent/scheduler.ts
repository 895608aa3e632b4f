// The agent's calendar jobs (node-schedule) and what they do: a recovery
// sweep every 2 minutes (judge intents stuck between receipt and verdict,
// queue any verdict events the feed's cursor has not reached, retry the
// outbox) and a nightly journal compaction with the configured retention.
// A failing job is logged, never thrown into the scheduler.
import schedule, { type Job } from "node-schedule";
import type { IntentProcessor } from "../kernel/intent-processor.ts";
import type { AgentPart } from "./agent-part.ts";
import type { VerdictFeed } from "./verdict-feed.ts";

export const RECOVERY_SWEEP = "*/2 * * * *";
/** 03:17 local time: off the hour, when a fleet's cron jobs pile up. */
export const JOURNAL_COMPACTION = "17 3 * * *";

export interface AgentJobsOptions {
  processor: IntentProcessor;
  feed: VerdictFeed;
  /** Publishes what was queued (the hub link). */
  link: { kick(): void };
  /** Compaction keeps verdicts of intents this recent. */
  journalRetentionDays: number;
  log(line: string): void;
}

export class AgentJobs implements AgentPart {
  private jobs: Job[] = [];

  constructor(private readonly options: AgentJobsOptions) {}

  start(): void {
    this.jobs = [
      schedule.scheduleJob("recovery sweep", RECOVERY_SWEEP, this.guard("recovery sweep", () => this.recoverySweep())),
      schedule.scheduleJob("journal compaction", JOURNAL_COMPACTION, this.guard("journal compaction", () => this.compactJournal())),
    ];
  }

  stop(): void {
    for (const job of this.jobs.splice(0)) job.cancel();
  }

  /** Intents stuck between receipt and verdict are judged, their events queued, the outbox retried. */
  recoverySweep(): void {
    const { processor, feed, link, log } = this.options;
    const recovered = processor.evaluatePending().length;
    const queued = feed.catchUp();
    if (recovered || queued) log(`recovery sweep: judged ${recovered} stuck intent(s), queued ${queued} verdict event(s)`);
    link.kick();
  }

  /** Deletes verdicts older than the retention, never one not yet queued for the hub. */
  compactJournal(): number {
    const { processor, feed, journalRetentionDays, log } = this.options;
    const before = Date.now() - journalRetentionDays * 86_400_000;
    const deleted = processor.compact(before, feed.cursor + 1);
    if (deleted) log(`journal compaction: deleted ${deleted} verdict(s) of intents before ${new Date(before).toISOString()}`);
    return deleted;
  }

  private guard(name: string, job: () => void): () => void {
    return () => {
      try {
        job();
      } catch (error) {
        this.options.log(`${name} failed: ${(error as Error).message}`);
      }
    };
  }
}
