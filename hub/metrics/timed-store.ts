// The registry with its writes timed: each HubStore.write() from call to
// commit (waiting for the group commit included, which is what a caller
// waits for) goes into edgefed_registry_commit_seconds. Reads pass through.
import type { HubStore } from "../store/hub-store.ts";

export function timedStore(store: HubStore, observe: (seconds: number) => void): HubStore {
  return {
    ...store,
    write(work) {
      const started = performance.now();
      const done = store.write(work);
      // Failed writes count too: a commit that fails slowly is what an operator looks for.
      const measure = () => observe((performance.now() - started) / 1000);
      done.then(measure, measure);
      return done;
    },
  };
}
