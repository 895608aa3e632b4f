// One listener of a server-sent event stream: what the hub has for it waits
// in a bounded queue while its connection takes what came before. A client
// that falls MAX behind (gone quiet, or too slow) is dropped rather than let
// grow the hub's memory; the browser's EventSource reconnects and reloads.
export class StreamClient<E> {
  private readonly queue: E[] = [];
  private wake: (() => void) | null = null;
  private why: string | null = null;
  private readonly ended: Promise<void>;
  private end!: () => void;

  constructor(private readonly maxQueued: number) {
    this.ended = new Promise((resolve) => (this.end = resolve));
  }

  /** Queues an event; past the bound, drops the client. */
  push(event: E): void {
    if (this.why !== null) return;
    if (this.queue.length >= this.maxQueued) return this.close(`more than ${this.maxQueued} events behind`);
    this.queue.push(event);
    this.wake?.();
  }

  close(why: string): void {
    if (this.why !== null) return;
    this.why = why;
    this.queue.length = 0;
    this.end();
    this.wake?.();
  }

  /** Why it ended, or null while it runs. */
  get closedBecause(): string | null {
    return this.why;
  }

  /** Writes events as they come until closed (a write that never finishes does not hold it); resolves with why it ended. */
  async pump(write: (event: E) => Promise<unknown>): Promise<string> {
    while (this.why === null) {
      const next = this.queue.shift();
      if (next === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        continue;
      }
      await Promise.race([write(next), this.ended]);
    }
    return this.why;
  }
}
