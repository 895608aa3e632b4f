// The agent's latest log lines, kept in memory for the diagnostics work
// kind (work-kinds.ts): a ring of RECENT_LOG_LINES, each line also passed
// on to the real log.
export const RECENT_LOG_LINES = 200;

export class RecentLog {
  private readonly ring: string[] = [];

  constructor(private readonly next: (line: string) => void) {}

  /** Keeps the line (with its time) and logs it. */
  readonly log = (line: string): void => {
    this.ring.push(`${new Date().toISOString()} ${line}`);
    if (this.ring.length > RECENT_LOG_LINES) this.ring.shift();
    this.next(line);
  };

  /** Oldest first. */
  lines(): readonly string[] {
    return [...this.ring];
  }
}
