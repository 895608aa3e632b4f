// Work packages (issue 15): what the hub hands to nodes to run, and the
// state machine every backend of the registry enforces. A package is
// queued, leased to one node (attempt n), running (progress), and ends
// succeeded, failed, expired (its deadline passed) or cancelled. A lease
// that runs out sends it back to queued for another attempt until
// max_attempts. Attempt numbers fence: only the current attempt's holder
// may report progress or a result; anything from an older attempt is
// refused and recorded.

export const WORK_STATES = ["queued", "leased", "running", "succeeded", "failed", "expired", "cancelled"] as const;
export type WorkState = (typeof WORK_STATES)[number];

export const TERMINAL_STATES: readonly WorkState[] = ["succeeded", "failed", "expired", "cancelled"];
/** Held by a node: counted against its concurrency limit, watched for lease expiry. */
export const IN_FLIGHT_STATES: readonly WorkState[] = ["leased", "running"];

export const WORK_STRATEGIES = ["least_loaded", "round_robin", "latency", "random"] as const;
export type WorkStrategy = (typeof WORK_STRATEGIES)[number];

/** The transitions the store allows, from each state. */
export const ALLOWED_TRANSITIONS: Record<WorkState, readonly WorkState[]> = {
  queued: ["leased", "failed", "expired", "cancelled"],
  leased: ["running", "queued", "succeeded", "failed", "expired", "cancelled"],
  // running -> running: a progress report (renews the lease).
  running: ["running", "queued", "succeeded", "failed", "expired", "cancelled"],
  succeeded: [],
  failed: [],
  expired: [],
  cancelled: [],
};

export function transitionAllowed(from: WorkState, to: WorkState): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}

export function isTerminal(state: WorkState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** What a submit stores (one package; a fleet submit stores one per node, sharing a group). */
export interface NewWorkPackage {
  id: string;
  kind: string;
  payload: Record<string, unknown>;
  requires: string[];
  /** "any", or the node id it must run on (a fleet submit gives each package its node). */
  target: string;
  strategy: WorkStrategy;
  /** The packages of one fleet submit share this (the first one's id); null for a single package. */
  group: string | null;
  /** ms; past it the package expires wherever it is. null: none. */
  deadlineAt: number | null;
  leaseMs: number;
  maxAttempts: number;
  /** Unique among packages; a fleet submit's first package holds it. */
  idempotencyKey: string | null;
  createdAt: number;
}

export interface WorkPackage extends NewWorkPackage {
  /** Increasing in the order submitted (the list's cursor). */
  seq: number;
  state: WorkState;
  /** The node holding or that last held it; null while never leased. */
  node: string | null;
  /** The current attempt (0: never leased); the fencing token. */
  attempt: number;
  leaseExpiresAt: number | null;
  /** 0..100 while running; the last said. */
  progress: number | null;
  result: Record<string, unknown> | null;
  error: string | null;
  updatedAt: number;
}

export const ATTEMPT_OUTCOMES = ["succeeded", "failed", "lease_expired", "expired", "cancelled"] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

export interface WorkAttempt {
  attempt: number;
  node: string;
  leasedAt: number;
  endedAt: number | null;
  /** null while it runs. */
  outcome: AttemptOutcome | null;
  error: string | null;
}

/** One line of a package's history: a transition, or a refused message (`to` null). */
export interface WorkEvent {
  seq: number;
  at: number;
  from: WorkState;
  /** null: nothing changed (a late or stale message refused, recorded in `cause`). */
  to: WorkState | null;
  attempt: number;
  node: string | null;
  cause: string;
}

/**
 * A change asked of a package. Those naming an `attempt` are fenced: they
 * apply only to the current attempt.
 */
export type WorkChange =
  | { to: "leased"; node: string; leaseExpiresAt: number; cause: string }
  | { to: "running"; attempt: number; progress: number; leaseExpiresAt: number; cause: string }
  | { to: "succeeded"; attempt: number; result: Record<string, unknown>; cause: string }
  | { to: "failed"; attempt?: number; error: string; cause: string }
  /** The lease ran out (or the node gave it back): another attempt, or failed once max_attempts were made. */
  | { to: "queued"; attempt: number; cause: string }
  | { to: "expired"; cause: string }
  | { to: "cancelled"; cause: string };

export type TransitionOutcome =
  | { ok: true; package: WorkPackage }
  /** wrong_state: not allowed from where it is; stale_attempt: fenced off; unknown: no such package. */
  | { ok: false; reason: "wrong_state" | "stale_attempt" | "unknown"; package: WorkPackage | undefined };

export interface WorkListQuery {
  limit: number;
  /** Only packages with seq below this (the cursor of the page before; newest first). */
  beforeSeq?: number;
  state?: WorkState;
  kind?: string;
  node?: string;
}
