// Applying hub decisions on the node. A decision counts only if it parses,
// carries the pinned hub key's signature, is addressed to this node (or the
// fleet) and has not expired; it then applies once by id, however often it
// is delivered, and is acknowledged every time. Refused decisions change
// nothing and are acknowledged as refused, with the reason. A RESEARCH_TASK
// runs once, when applied, and its result rides in that first ack.
import { applyPolicyUpdate, type KernelPolicy } from "../kernel/policy.ts";
import { ENFORCEMENTS, MODES } from "../kernel/types.ts";
import { decisionEffect } from "../protocol/decision-policy.ts";
import { decodePayload, DecisionMessage, DesiredPolicyMessage, type DecisionAckMessage } from "../protocol/messages.ts";
import { verifyMessage } from "../protocol/signing.ts";
import type { AgentStore } from "./agent-store.ts";
import type { ResearchOutcome } from "./research-tasks.ts";

/** Runs a RESEARCH_TASK's payload on this node (research-tasks.ts's runResearchTask, with the node's parts). */
export type ResearchRunner = (payload: Record<string, unknown>, now: number) => ResearchOutcome;

const NO_RESEARCH: ResearchRunner = () => ({ ok: false, error: "this node does not run research tasks" });

export interface DecisionOutcome {
  /** The ack to publish on cmd/ack; null when the payload had no usable id at all. */
  ack: DecisionAckMessage | null;
  /** The policy now in force, if this decision changed it. */
  policy: KernelPolicy | null;
  /**
   * Persists the decision (and its policy) as applied. Run it in the same
   * transaction that queues the ack, so a power cut keeps both or neither;
   * absent when there is nothing to record (refused, or already applied).
   */
  record?: () => void;
}

export class DecisionApplier {
  constructor(
    private readonly store: AgentStore,
    private readonly nodeId: string,
    private readonly hubPublicKey: () => string | null,
    private readonly log: (line: string) => void = () => {},
    private readonly node: {
      /** The models of the gate config in force: a STRATEGY_ALLOCATION's other names are logged (see noteModelsNotAllowed). */
      knownModels?: () => ReadonlySet<string>;
      /** Runs RESEARCH_TASKs; without it the node refuses them. */
      runResearch?: ResearchRunner;
    } = {},
  ) {}

  /** Judges a delivered decision; nothing is stored until `record` runs. */
  apply(payload: Buffer | string, now: number): DecisionOutcome {
    const decoded = decodePayload(DecisionMessage, payload);
    if (!decoded.ok) return { ack: refusedAck(idOf(payload), `malformed: ${decoded.error}`, now), policy: null };
    const decision = decoded.value;

    const previous = this.store.appliedDecision(decision.id);
    if (previous) {
      // Redelivery: acknowledged again with the first outcome, not applied again.
      return { ack: { id: decision.id, ok: previous.ok, ...(previous.error ? { error: previous.error } : {}), appliedAt: previous.appliedAt }, policy: null };
    }
    const hubKey = this.hubPublicKey();
    const problem =
      hubKey === null
        ? "no hub key pinned yet (not registered)"
        : !verifyMessage(decision, hubKey)
          ? "signature does not verify with the hub's key"
          : decision.target !== "fleet" && decision.target !== this.nodeId
            ? `addressed to ${decision.target}`
            : decision.expiresAt <= now
              ? "expired"
              : null;
    // Forged or misaddressed decisions are not recorded: a forger must not be able to burn a real decision's id.
    if (problem) return { ack: refusedAck(decision.id, problem, now), policy: null };

    const effect = decisionEffect(decision.type, decision.payload, decision.issuedAt);
    if (effect.kind === "policy" && decision.type === "STRATEGY_ALLOCATION") this.noteModelsNotAllowed(decision);
    let policy: KernelPolicy | null = null;
    let error: string | null = null;
    let result: Record<string, unknown> | null = null;
    // A retained desired policy of this version or newer already folds it in
    // (and whatever came after): applying it again would undo later decisions.
    const superseded = this.store.policy().version >= decision.seq;
    if (effect.kind === "invalid") error = `invalid: ${effect.violations.join("; ")}`;
    else if (effect.kind === "policy" && !superseded) {
      const current = this.store.policy();
      const next = applyPolicyUpdate(current.policy, effect.update);
      if (next.ok) policy = next.policy;
      else error = `invalid: ${next.violations.join("; ")}`;
    } else if (decision.type === "RESEARCH_TASK") {
      // Run once, here: a redelivery is acknowledged from the record, without the result, which the
      // first ack carries (the outbox never drops an ack, and the hub keeps a node's first).
      const outcome = (this.node.runResearch ?? NO_RESEARCH)(decision.payload, now);
      if (outcome.ok) result = outcome.result;
      else error = outcome.error;
      this.log(`research task ${decision.id} (${String(decision.payload.task_type)}): ${outcome.ok ? "done" : `refused: ${outcome.error}`}`);
    }
    const ack: DecisionAckMessage = { id: decision.id, ok: error === null, ...(error ? { error } : {}), ...(result ? { result } : {}), appliedAt: now };
    return {
      ack,
      policy,
      // Keeps the version: the retained desired policy that folds this decision comes with its own.
      record: () => {
        if (policy) this.store.savePolicy({ ...this.store.policy(), policy, source: "decision" }, now);
        this.store.recordDecision({ id: decision.id, type: decision.type, ok: error === null, error, appliedAt: now }, JSON.stringify(decision));
      },
    };
  }

  /**
   * A STRATEGY_ALLOCATION may name models this node does not allow: the hub
   * refused names no target allows, so these are weighed for other nodes of
   * the fleet (or for a node the hub could not check). Taken with the rest,
   * not refused: the node adopts the desired policy that folds them anyway,
   * and they do nothing here (an intent naming such a model is held
   * INVALID_INPUT:model before any weight counts). Logged, quoted.
   */
  private noteModelsNotAllowed(decision: DecisionMessage): void {
    const known = this.node.knownModels?.();
    const weights = decision.payload.model_weights;
    if (!known || typeof weights !== "object" || weights === null) return;
    const others = Object.keys(weights).filter((model) => !known.has(model));
    if (others.length) this.log(`${decision.id} STRATEGY_ALLOCATION weighs ${JSON.stringify(others)}, in none of this node's allow tables: no effect here`);
  }

  /**
   * A retained desired policy from `nodes/{node}/policy` ("node") or
   * `fleet/policy` ("fleet"), adopted when it verifies, is signed for that
   * topic's target (this node, or "fleet") and is newer than the one in
   * force. A node policy folds the fleet's decisions too, so once the node
   * follows one, fleet policies are ignored; and a node policy of the same
   * version as a fleet one wins (the hub publishes both after a fleet
   * decision, in no guaranteed order). A refused one changes nothing and is
   * logged with the reason.
   */
  adoptDesiredPolicy(payload: Buffer | string, source: "node" | "fleet", now: number): KernelPolicy | null {
    const hubKey = this.hubPublicKey();
    if (hubKey === null) return null; // not registered: nothing to check it against yet
    if (payload.length === 0) return null; // the retained policy was cleared (the hub forgot it at a removal)
    const decoded = decodePayload(DesiredPolicyMessage, payload);
    if (!decoded.ok) return this.refusePolicy(source, `malformed: ${decoded.error}`);
    // Signed for this topic's target: a copy of another node's policy (or the fleet's) republished here is not ours.
    const expectedTarget = source === "fleet" ? "fleet" : this.nodeId;
    const problem = !verifyMessage(decoded.value, hubKey)
      ? "signature does not verify with the hub's key"
      : decoded.value.target !== expectedTarget
        ? `signed for ${decoded.value.target}, not ${expectedTarget}`
        : !isKernelPolicy(decoded.value.policy)
          ? "not a policy this agent understands"
          : null;
    if (problem) return this.refusePolicy(source, problem);
    const policy = decoded.value.policy as unknown as KernelPolicy;
    const current = this.store.policy();
    const version = decoded.value.version;
    const newer = version > current.version || (version === current.version && source === "node" && current.source !== "node");
    if (!newer || (source === "fleet" && current.source === "node")) return null;
    this.store.savePolicy({ policy, version, source }, now);
    return policy;
  }

  private refusePolicy(source: "node" | "fleet", reason: string): null {
    this.log(`refused the desired policy on ${source === "fleet" ? "fleet/policy" : `nodes/${this.nodeId}/policy`}: ${reason}`);
    return null;
  }
}

/** The signature says the hub sent it; this says the hub and this agent agree on what a policy is. */
function isKernelPolicy(value: unknown): value is KernelPolicy {
  if (typeof value !== "object" || value === null) return false;
  const p = value as Record<string, unknown>;
  return (
    typeof p.mode === "string" &&
    p.mode !== "FREEZE" &&
    (MODES as readonly string[]).includes(p.mode) &&
    (ENFORCEMENTS as readonly string[]).includes(p.enforcement as string) &&
    (p.freeze === null || (typeof p.freeze === "object" && p.freeze !== null)) &&
    typeof p.thresholds === "object" &&
    p.thresholds !== null
  );
}

function refusedAck(id: string | null, error: string, now: number): DecisionAckMessage | null {
  return id === null ? null : { id, ok: false, error: error.slice(0, 1000), appliedAt: now };
}

/** The id of a payload that failed validation, if it has a plausible one, so the refusal can still be acknowledged. */
function idOf(payload: Buffer | string): string | null {
  try {
    const id = (JSON.parse(payload.toString()) as { id?: unknown }).id;
    return typeof id === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}
