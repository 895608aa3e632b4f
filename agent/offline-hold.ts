// Fail-closed autonomy limit for operators who want one: after
// EDGEFED_OFFLINE_HOLD_AFTER_S without the hub, the kernel holds every entry
// with reason OFFLINE (exits still pass) until the hub is heard again. Until
// the hub is first heard the agent counts as offline. Off with 0, and
// without a hub (simulation only: there is nobody to wait for).
import type { IntentProcessor } from "../kernel/intent-processor.ts";
import type { AgentPart } from "./agent-part.ts";
import type { LinkListener } from "./hub-link.ts";

export class OfflineHold implements AgentPart, LinkListener {
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly processor: IntentProcessor,
    /** 0: never. */
    private readonly afterS: number,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.connectivityChanged(false);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  connectivityChanged(online: boolean): void {
    if (this.afterS <= 0) return;
    this.stop();
    if (online) {
      if (this.processor.halt) this.log("hub heard again: the OFFLINE hold is lifted");
      this.processor.setHalt(null);
      return;
    }
    this.timer = setTimeout(() => {
      this.processor.setHalt("OFFLINE");
      this.log(`offline for ${this.afterS} s: holding every entry (reason OFFLINE) until the hub is heard again`);
    }, this.afterS * 1000);
  }
}
