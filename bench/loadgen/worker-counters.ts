// What a load worker counts and reports to its parent once a second (one
// JSON line on stdout): totals since it started, except `connected`,
// `verdictsInFlight` and `verdictsAwaitingReceipt`, which are current. The
// parent sums the workers'.

export interface WorkerCounters {
  registeredNew: number;
  registeredAgain: number;
  /** Nodes that gave up registering (refused, or out of attempts). */
  registrationFailures: number;
  /** Attempts answered "try again" (429, 5xx, network). */
  registrationRetries: number;
  /** ms since the epoch: first registration sent, last one answered (0: not yet). */
  registrationStartedAt: number;
  registrationDoneAt: number;
  connected: number;
  connects: number;
  disconnects: number;
  errors: number;
  heartbeats: number;
  /** Verdicts acknowledged: at the hub's receipt while the hub says it receipts (hub/features), else at the broker's PUBACK. */
  verdictsAcked: number;
  /** Verdicts the broker acknowledged (PUBACK), each once: what verdictsAcked counted before receipts. */
  verdictsPubacked: number;
  /** Verdicts sent and not acknowledged yet (by receipt or PUBACK, as above). */
  verdictsInFlight: number;
  /** Of those, the ones sent with their outbox id, awaiting the hub's receipt. */
  verdictsAwaitingReceipt: number;
  /** Verdicts sent again: no receipt within the timeout, or a new connection. */
  verdictsResent: number;
  /** Verdicts not sent because too many were awaiting their PUBACK (the hub or broker is behind). */
  verdictsSkipped: number;
  acks: number;
  badDecisions: number;
  publishFailures: number;
}

export function emptyCounters(): WorkerCounters {
  return {
    registeredNew: 0,
    registeredAgain: 0,
    registrationFailures: 0,
    registrationRetries: 0,
    registrationStartedAt: 0,
    registrationDoneAt: 0,
    connected: 0,
    connects: 0,
    disconnects: 0,
    errors: 0,
    heartbeats: 0,
    verdictsAcked: 0,
    verdictsPubacked: 0,
    verdictsInFlight: 0,
    verdictsAwaitingReceipt: 0,
    verdictsResent: 0,
    verdictsSkipped: 0,
    acks: 0,
    badDecisions: 0,
    publishFailures: 0,
  };
}

/** The fleet's counters: sums, except the registration times (first start, last answer). */
export function sumCounters(all: WorkerCounters[]): WorkerCounters {
  const total = emptyCounters();
  for (const counters of all) {
    for (const key of Object.keys(total) as (keyof WorkerCounters)[]) total[key] += counters[key];
  }
  const started = all.map((c) => c.registrationStartedAt).filter((t) => t > 0);
  total.registrationStartedAt = started.length ? Math.min(...started) : 0;
  total.registrationDoneAt = all.every((c) => c.registrationDoneAt > 0) ? Math.max(...all.map((c) => c.registrationDoneAt)) : 0;
  return total;
}

/** What a worker prints: `stats` once a second, `final` once stopped (with each node's last verdict seq the broker acknowledged, by hub key). */
export type WorkerLine = { type: "stats"; counters: WorkerCounters } | { type: "final"; counters: WorkerCounters; verdictSeqs: Record<string, Record<string, number>> };
