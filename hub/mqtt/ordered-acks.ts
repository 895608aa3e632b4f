// The hub's PUBACKs for QoS 1 messages, each sent once the message's effect is
// committed and in the order the messages arrived (MQTT 3.1.1 [MQTT-4.6.0-2]).
// A group commit covers many messages, so many PUBACKs go at once.
interface PendingAck {
  messageId: number;
  committed: boolean;
}

export class OrderedAcks {
  private queue: PendingAck[] = [];

  constructor(
    private readonly send: (messageId: number) => void,
    /** A commit failed: its message must not be acknowledged (nor, to keep the order, any after it). */
    private readonly onCommitFailed: (error: Error) => void,
  ) {}

  /** Queues the PUBACK of `messageId`, to go once `committed` resolves (at once without it) and every earlier one went. */
  add(messageId: number, committed?: Promise<unknown>): void {
    const ack: PendingAck = { messageId, committed: committed === undefined };
    this.queue.push(ack);
    if (!committed) return this.sendCommitted();
    committed.then(
      () => {
        ack.committed = true;
        this.sendCommitted();
      },
      (error: Error) => {
        if (this.queue.includes(ack)) this.onCommitFailed(error);
      },
    );
  }

  /** The connection is gone: nothing queued may go on the next one (the broker redelivers those messages). */
  clear(): void {
    this.queue = [];
  }

  get pending(): number {
    return this.queue.length;
  }

  private sendCommitted(): void {
    let sent = 0;
    while (sent < this.queue.length && this.queue[sent]!.committed) this.send(this.queue[sent++]!.messageId);
    if (sent > 0) this.queue = this.queue.slice(sent);
  }
}
