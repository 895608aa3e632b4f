// Jittered exponential backoff for every retry loop (registration, reconnects).

/**
 * Delay before attempt `attempt` (0-based): exponential from `baseMs`, capped
 * at `maxMs`, half of it random, so a fleet rebooting together does not call
 * the hub in lockstep.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
