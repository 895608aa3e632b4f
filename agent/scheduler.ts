// The agent's calendar jobs (node-schedule): a recovery sweep every 2 minutes
// (judge intents stuck between receipt and verdict, queue any verdict events
// the cursor has not reached, retry the outbox) and a nightly journal
// compaction with the configured retention. Heartbeats use a plain timer.
import schedule, { type Job } from "node-schedule";

export interface ScheduledWork {
  recoverySweep(): void;
  compactJournal(): void;
  log(line: string): void;
}

export const RECOVERY_SWEEP = "*/2 * * * *";
/** 03:17 local time: off the hour, when a fleet's cron jobs pile up. */
export const JOURNAL_COMPACTION = "17 3 * * *";

export function scheduleAgentJobs(work: ScheduledWork): () => void {
  const guard = (name: string, fn: () => void) => () => {
    try {
      fn();
    } catch (error) {
      work.log(`${name} failed: ${(error as Error).message}`);
    }
  };
  const jobs: Job[] = [
    schedule.scheduleJob("recovery sweep", RECOVERY_SWEEP, guard("recovery sweep", work.recoverySweep)),
    schedule.scheduleJob("journal compaction", JOURNAL_COMPACTION, guard("journal compaction", work.compactJournal)),
  ];
  return () => {
    for (const job of jobs) job.cancel();
  };
}
