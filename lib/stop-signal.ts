// The first SIGTERM or SIGINT, as a promise. Hub and agent call this before
// start-up begins: a stop asked for while they start (systemd, Ctrl-C) becomes
// a clean stop once start-up is done, not Bun's default death by signal.

/** Resolves with the first SIGTERM or SIGINT; later ones are ignored while the stop runs. */
export function firstStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => resolve(signal));
  });
}
