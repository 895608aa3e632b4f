// How the agent follows the hub's policy. Decisions (nodes/{id}/cmd) are
// judged by the decision applier, applied once by id and acknowledged through
// the outbox; retained desired policies (nodes/{id}/policy, fleet/policy) are
// adopted by version, a node's own over the fleet's; a registration may say
// the node follows the fleet again, or come from another hub. Whatever policy
// that puts in force goes into the intent processor at once.
import type { IntentProcessor } from "../kernel/intent-processor.ts";
import type { KernelPolicy } from "../kernel/policy.ts";
import type { AgentStore } from "./agent-store.ts";
import type { DecisionApplier } from "./decision-applier.ts";
import { outboxMessage, type Outbox } from "./outbox.ts";

export interface PolicyFollowerOptions {
  nodeId: string;
  store: AgentStore;
  applier: DecisionApplier;
  processor: IntentProcessor;
  outbox: Outbox;
  log(line: string): void;
}

/** What a registration answer says about policy. */
export interface RegistrationNews {
  /** "fleet": the hub keeps no policy of this node's own (absent: an older hub). */
  follows?: "node" | "fleet";
  /** The hub signs with another key than the one pinned before: another hub, or one rebuilt from scratch. */
  hubKeyChanged: boolean;
}

export class PolicyFollower {
  constructor(private readonly options: PolicyFollowerOptions) {}

  /** A decision from the hub: applied (once by id), its ack queued in the same transaction that records it. */
  applyDecision(payload: Buffer): void {
    const { applier, outbox, processor, nodeId } = this.options;
    const outcome = applier.apply(payload, Date.now());
    const ack = outcome.ack ? [outboxMessage(nodeId, "cmd/ack", outcome.ack, Date.now())] : [];
    outbox.enqueue(ack, outcome.record); // the decision is recorded exactly when its ack is queued
    if (outcome.policy) this.putInForce(outcome.policy);
  }

  /** A retained desired policy, put in force if it verifies and is newer than the one in force. */
  adoptDesiredPolicy(payload: Buffer, source: "node" | "fleet"): void {
    const policy = this.options.applier.adoptDesiredPolicy(payload, source, Date.now());
    if (policy) this.putInForce(policy);
  }

  /** Into the processor; a new freeze is logged with its severity and reason. */
  private putInForce(policy: KernelPolicy): void {
    const before = JSON.stringify(this.options.processor.policy.freeze ?? null);
    this.options.processor.setPolicy(policy);
    const freeze = policy.freeze;
    if (freeze && JSON.stringify(freeze) !== before) {
      const until = freeze.until === null ? "until unfrozen" : `until ${new Date(freeze.until).toISOString()}`;
      // The reason is the hub's free text: quoted, so it cannot forge a log line.
      this.options.log(`frozen ${until}, severity ${freeze.severity ?? "not given"}${freeze.reason ? `: ${JSON.stringify(freeze.reason)}` : ""}`);
    }
  }

  /**
   * After a registration, before it is saved. The policy in force stays in
   * either case until the next retained one arrives (fail-closed); what
   * changes is which retained policies count as newer.
   */
  followRegistration(news: RegistrationNews): void {
    const { store, log } = this.options;
    if (news.follows === "fleet" && store.policy().source === "node") {
      // The hub keeps no policy of this node's own (a removal forgot it, seen by this agent or not): follow the fleet's again.
      store.savePolicy({ ...store.policy(), version: 0, source: "fleet" }, Date.now());
      log("the hub keeps no policy of this node's own: following the fleet policy again");
    }
    if (news.hubKeyChanged) {
      // Another hub (or one rebuilt from scratch): its policy versions start over.
      store.savePolicy({ ...store.policy(), version: 0 }, Date.now());
      log("the hub's key changed: pinned the new one; its policy versions start over");
    }
  }
}
