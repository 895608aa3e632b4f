// Counts what ingest drops, by reason, and logs it at most once per node per
// minute: a node stuck sending garbage must not flood the hub's log.
export const LOG_INTERVAL_MS = 60_000;

export class DropCounter {
  readonly byReason: Record<string, number> = {};
  total = 0;
  private readonly lastLogged = new Map<string, number>();

  constructor(private readonly log: (line: string) => void) {}

  drop(reason: string, source: string, detail: string, now: number): void {
    this.total++;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
    const last = this.lastLogged.get(source);
    if (last !== undefined && now - last < LOG_INTERVAL_MS) return;
    this.lastLogged.set(source, now);
    // `detail` names a field or a size, never payload content: payloads may carry secrets.
    this.log(`dropped a message from ${source}: ${reason}: ${detail} (further drops from it logged once a minute)`);
  }
}
