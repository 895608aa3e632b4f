// Hub decisions: validated against the kernel's policy rules, signed with the
// hub's Ed25519 key, stored in the audit trail, published on each target's
// `cmd` topic, and folded into the desired policy kept retained on
// `nodes/{node}/policy` or `fleet/policy`. An OVERRIDE folds those policies
// again without the decision it reverses (override.ts). A RESEARCH_TASK
// reaches the nodes that take research as work as a work package instead of
// on `cmd`, and the package's outcome is their ack (research-packages.ts).
import { z } from "zod";
import { applyPolicyUpdate, DEFAULT_POLICY, type KernelPolicy } from "../../kernel/policy.ts";
import { decisionEffect, type DecisionEffect, type TargetModels } from "../../protocol/decision-policy.ts";
import { DECISION_TYPES, type DecisionAckMessage, type DecisionMessage, type DesiredPolicyMessage } from "../../protocol/messages.ts";
import type { OverridePayload } from "../../protocol/override-and-research.ts";
import { signMessage } from "../../protocol/signing.ts";
import { deliveryOf, FLEET_POLICY_TOPIC, NODE_ID_PATTERN, nodeTopic, type Delivery } from "../../protocol/topics.ts";
import { DomainError, invalidInput, unknownNodeError } from "../errors.ts";
import type { HubContext } from "../hub-context.ts";
import { randomSecret } from "../identity/secrets.ts";
import type { StoredDecision, StoreTransaction } from "../store/hub-store.ts";
import { modelsTargetsAllow } from "./allocation-models.ts";
import { appendAudit } from "../audit/audit-chain.ts";
import { OPERATOR, originActor, type DecisionOrigin } from "./decision-origin.ts";
import { linkOverride, refoldPolicies } from "./override.ts";
import { ackOfPackage, addResearchPackages, decisionToAcknowledge, hasResearchPackage, takesResearchAsWork } from "./research-packages.ts";
import type { WorkPackage } from "../work/work-model.ts";

export const DEFAULT_EXPIRY_S = 3600;
/** The error of the ack-like row that closes a decision its node never acknowledged before it was removed. */
export const NODE_REMOVED = "node_removed";
const MAX_EXPIRY_S = 30 * 86400;
const PUBLISH_TIMEOUT_MS = 5000;

export const DecisionRequest = z.strictObject({
  type: z.enum(DECISION_TYPES),
  target: z.union([z.literal("fleet"), z.string().regex(NODE_ID_PATTERN, "target: a node id or \"fleet\"")]),
  payload: z.record(z.string(), z.unknown()).default({}),
  expires_in_s: z.int().min(1).max(MAX_EXPIRY_S).optional(),
});

/** What a decision would do, checked and not issued (POST /api/federation/decisions?dry_run=1). */
export interface DryRunOutcome {
  /** The node ids it would be sent to. */
  targets: string[];
}

/** Thrown at the end of a dry run's transaction, so the store rolls back everything it wrote. */
class DryRunRollback extends Error {
  constructor(readonly outcome: DryRunOutcome) {
    super("dry run: rolled back");
  }
}

export interface IssuedDecision {
  decision: DecisionMessage;
  origin: DecisionOrigin;
  seq: number;
  targets: string[];
  /** The targets sent a work package instead of the decision (a RESEARCH_TASK); empty for every other type. */
  byWork: string[];
  published: boolean;
}

/** A decision as committed, before it is published. */
export type CommittedDecision = Omit<IssuedDecision, "published">;

/** The latest decisions the live stream is told of again after the change feed reconnects. */
const RETOLD_AFTER_RECONNECT = 200;

export class Decisions {
  /** Desired policy per target ("fleet" or a node id), with the signed message kept retained. */
  private readonly desired = new Map<string, DesiredPolicyMessage>();
  /**
   * Decisions are issued one at a time: each folds into the desired policy
   * the one before it left, so two at once must not start from the same one.
   */
  private issuing: Promise<unknown> = Promise.resolve();
  /** Told of each decision an operator's OVERRIDE reversed, once committed (the federation roles' suppression). */
  private readonly overrideListeners: Array<(overridden: StoredDecision, at: number) => void> = [];
  /** Told of each decision once committed and folded, before it is published (the alerts). */
  private readonly issuedListeners: Array<(issued: CommittedDecision) => void> = [];
  /** Told the id of each decision issued or acknowledged, once committed (the dashboard's live stream). */
  private readonly changeListeners: Array<(decisionId: string) => void> = [];

  private constructor(private readonly hub: HubContext) {}

  /** Takes up the desired policies the registry keeps. */
  static async load(hub: HubContext): Promise<Decisions> {
    const decisions = new Decisions(hub);
    const resigned = new Map<string, DesiredPolicyMessage>();
    for (const [target, stored] of await hub.store.decisions.policies()) {
      // Kept by a hub from before policies named their target (issue 10): signed again, bound to it,
      // and so republished bound on the next connect; agents refuse unbound ones.
      const message = stored.target === target ? stored : decisions.signPolicy(target, stored);
      if (message !== stored) resigned.set(target, message);
      decisions.desired.set(target, message);
    }
    if (resigned.size) {
      await hub.store.write(async (tx) => {
        for (const [target, message] of resigned) await tx.decisions.savePolicy(target, message);
      });
    }
    return decisions;
  }

  /**
   * A desired policy signed together with its target, so a copy retained on
   * another node's topic (or the fleet's) is refused by the agent there.
   */
  private signPolicy(target: string, policy: { version: number; issuedAt: number; policy: Record<string, unknown> }): DesiredPolicyMessage {
    return signMessage({ target, version: policy.version, issuedAt: policy.issuedAt, policy: policy.policy }, this.hub.identity.keys.privateKey);
  }

  /** The retained policy messages, republished whenever the hub (re)connects. */
  retainedPolicies(): { topic: string; payload: string; delivery: Delivery }[] {
    return [...this.desired].map(([target, message]) => ({ topic: policyTopic(target), payload: JSON.stringify(message), delivery: policyDelivery(target) }));
  }

  /** Calls `listener` with each decision an operator's OVERRIDE reverses, after it is committed. */
  whenOverridden(listener: (overridden: StoredDecision, at: number) => void): () => void {
    this.overrideListeners.push(listener);
    return () => {
      const index = this.overrideListeners.indexOf(listener);
      if (index >= 0) this.overrideListeners.splice(index, 1);
    };
  }

  /** Calls `listener` with each decision issued, once committed and its desired policies in force (policyInForce), before it is published. */
  whenIssued(listener: (issued: CommittedDecision) => void): void {
    this.issuedListeners.push(listener);
  }

  /** Calls `listener` with the id of each decision issued, and again on each ack, once committed. */
  onChange(listener: (decisionId: string) => void): void {
    this.changeListeners.push(listener);
  }

  /** Tells the change listeners a decision was issued or acknowledged (here, or on another replica: hub/replicas/replica-sync.ts). */
  changed(decisionId: string): void {
    for (const listener of this.changeListeners) listener(decisionId);
  }

  /**
   * Tells the change listeners (the live stream) about the `limit` latest
   * decisions again: after the change feed's listening connection came back,
   * the acks other replicas committed meanwhile were not heard.
   */
  async retellLatest(limit = RETOLD_AFTER_RECONNECT): Promise<void> {
    for (const decision of await this.hub.store.decisions.list({ limit })) this.changed(decision.message.id);
  }

  /** The desired policy in force for a target: its own, else the fleet's, else the default. */
  policyInForce(target: string, desired: ReadonlyMap<string, DesiredPolicyMessage> = this.desired): KernelPolicy {
    const message = desired.get(target) ?? desired.get("fleet");
    return (message?.policy as unknown as KernelPolicy | undefined) ?? { ...DEFAULT_POLICY };
  }

  /**
   * Checks, signs, stores, publishes and folds one decision. `origin` says
   * who made it, for the audit trail: an operator through the HTTP API
   * unless a federation role says otherwise.
   */
  issue(rawBody: unknown, origin: DecisionOrigin = OPERATOR): Promise<IssuedDecision> {
    const result = this.issuing.then(() => this.issueNow(rawBody, origin, false));
    this.issuing = result.catch(() => {});
    return result as Promise<IssuedDecision>;
  }

  /**
   * Checks a decision exactly as issue() would (the same code, up to the
   * transaction that stores it, which is rolled back) and says whom it would
   * reach; issues, stores and publishes nothing, and fails as issue() would.
   */
  dryRun(rawBody: unknown): Promise<DryRunOutcome> {
    const result = this.issuing.then(() => this.issueNow(rawBody, OPERATOR, true));
    this.issuing = result.catch(() => {});
    return result as Promise<DryRunOutcome>;
  }

  private async issueNow(rawBody: unknown, origin: DecisionOrigin, dryRun: boolean): Promise<IssuedDecision | DryRunOutcome> {
    const parsed = DecisionRequest.safeParse(rawBody);
    if (!parsed.success) throw invalidInput(parsed.error.issues);
    const request = parsed.data;
    const { hub } = this;
    // Another replica may have registered the target, or issued, a moment ago: take what it announced first.
    if (hub.changeFeed) await hub.changeFeed.barrier();
    if (request.target !== "fleet" && !hub.fleet.get(request.target)) {
      throw unknownNodeError(request.target);
    }
    const now = hub.clock();
    const effect = decisionEffect(request.type, request.payload, now, request.type === "STRATEGY_ALLOCATION" ? this.modelsTargetsAllow(request.target) : undefined);
    if (effect.kind === "invalid") throw new DomainError("invalid", "invalid_decision", effect.violations.join("; "));

    const unsigned = {
      id: `dec_${randomSecret(16)}`,
      type: request.type,
      target: request.target,
      payload: request.payload,
      issuedAt: now,
      expiresAt: now + (request.expires_in_s ?? DEFAULT_EXPIRY_S) * 1000,
    };
    const candidates = request.target === "fleet" ? [...hub.fleet.all()].map((n) => n.nodeId) : [request.target];
    const overriding = request.type === "OVERRIDE";
    let overridden: StoredDecision | undefined;
    const written = hub.store.write(async (tx) => {
      // The decision carries its seq (signed), the version of the desired
      // policy that folds it: an agent holding a newer policy knows this
      // decision is already in it. issue() runs one at a time, so the next
      // seq is known before the insert; on a shared registry its lock
      // serialises the issuers of every replica, so the desired policies as
      // stored, read after it, hold every decision issued before this one.
      const seq = await tx.decisions.nextSeq();
      const desired = hub.store.shared ? await tx.decisions.policies() : this.desired;
      const policyCandidates = this.policyCandidates(request.target, effect.kind === "policy" ? "fold" : overriding ? "refold" : null, desired);
      // A node removed since the lists above were taken (its removal may even
      // sit earlier in this transaction) gets nothing: no decision left
      // pending for it, no node policy saved again.
      const registered = await tx.nodes.existing([...candidates, ...policyCandidates]);
      const targets = candidates.filter((node) => registered.has(node));
      if (request.target !== "fleet" && targets.length === 0) throw unknownNodeError(request.target);
      const policyTargets = policyCandidates.filter((target) => target === "fleet" || registered.has(target));
      const decision: DecisionMessage = signMessage({ ...unsigned, seq }, hub.identity.keys.privateKey);
      await tx.decisions.add(decision, targets, origin);
      const byWork = request.type === "RESEARCH_TASK" ? targets.filter((node) => takesResearchAsWork(hub.fleet.get(node))) : [];
      if (byWork.length > 0) await addResearchPackages(tx, decision, byWork);
      await appendAudit(tx, { at: now, actor: originActor(origin), action: "decision.issue", subject: decision.id, detail: { type: decision.type, target: decision.target, targets: targets.length } });
      let next = new Map<string, KernelPolicy>();
      if (effect.kind === "policy") next = this.foldedInto(policyTargets, effect, desired);
      else if (overriding) {
        overridden = await linkOverride(tx, request.target, request.payload as OverridePayload, decision.id);
        next = await refoldPolicies(tx, policyTargets);
      }
      const policies = new Map<string, DesiredPolicyMessage>();
      for (const [target, policy] of next) {
        const message = this.signPolicy(target, { version: seq, issuedAt: now, policy: policy as unknown as Record<string, unknown> });
        await tx.decisions.savePolicy(target, message);
        policies.set(target, message);
      }
      if (hub.changeFeed) {
        // Every policy change makes the other replicas read them all again: one change says it.
        const policy = policies.size === 0 ? [] : [{ kind: "policy" as const, id: policies.size === 1 ? [...policies.keys()][0]! : "*" }];
        await hub.changeFeed.announce(tx, { kind: "decision", id: decision.id }, ...policy);
      }
      if (dryRun) throw new DryRunRollback({ targets });
      return { seq, decision, policies, targets, byWork, desired };
    });
    let outcome: Awaited<typeof written>;
    try {
      outcome = await written;
    } catch (error) {
      if (error instanceof DryRunRollback) return error.outcome;
      throw error;
    }
    const { seq, decision, policies, targets, byWork, desired } = outcome;
    if (desired !== this.desired) this.tookUp(desired);
    for (const [target, message] of policies) this.desired.set(target, message);
    hub.metrics.decisionIssued(decision.type, origin);
    this.changed(decision.id);
    if (overridden && origin.kind === "operator") for (const listener of this.overrideListeners) listener(overridden, now);
    const reverses = overriding ? `, reverses ${(request.payload as OverridePayload).overridden_decision_id}` : "";
    const by = origin.kind === "role" ? ` by role ${origin.role} (${origin.rule})` : "";
    const asWork = byWork.length > 0 ? `, ${byWork.length} as work packages` : "";
    hub.log(`decision ${decision.id} ${decision.type} -> ${decision.target}${by} (${targets.length} node(s)${asWork}${reverses}, ${policies.size} desired policies)`);
    for (const listener of this.issuedListeners) {
      try {
        listener({ decision, origin, seq, targets, byWork });
      } catch (error) {
        hub.log(`after decision ${decision.id}: ${(error as Error).message}`); // issued all the same
      }
    }

    const payload = JSON.stringify(decision);
    const publishes = [
      ...targets.filter((node) => !byWork.includes(node)).map((node) => hub.publish(nodeTopic(node, "cmd"), payload, deliveryOf("cmd"))),
      ...[...policies].map(([target, message]) => hub.publish(policyTopic(target), JSON.stringify(message), policyDelivery(target))),
    ];
    const published = await withTimeout(Promise.all(publishes), PUBLISH_TIMEOUT_MS);
    if (!published) hub.log(`decision ${decision.id}: the broker did not confirm delivery in time; it is sent again when the node next connects`);
    return { decision, origin, seq, targets, byWork, published };
  }

  /**
   * The desired policies a decision changes: a fleet decision the fleet's and
   * every node's that overrides it, a node decision its node's. An OVERRIDE
   * ("refold") folds again only policies that exist: a node without one of
   * its own follows the fleet's, already folded again if it changed.
   */
  private policyCandidates(target: string, change: "fold" | "refold" | null, desired: ReadonlyMap<string, DesiredPolicyMessage>): string[] {
    if (change === null) return [];
    if (target === "fleet") return [...desired.keys(), "fleet"].filter(uniq);
    return change === "fold" || desired.has(target) ? [target] : [];
  }

  /** What a STRATEGY_ALLOCATION to `target` is checked against (allocation-models.ts). */
  private modelsTargetsAllow(target: string): TargetModels | undefined {
    const nodes = target === "fleet" ? [...this.hub.fleet.all()] : [this.hub.fleet.get(target)!];
    return modelsTargetsAllow(target, nodes, (node) => this.policyInForce(node), (line) => this.hub.log(line));
  }

  /** Each target's desired policy with a policy decision folded in. */
  private foldedInto(targets: readonly string[], effect: Extract<DecisionEffect, { kind: "policy" }>, desired: ReadonlyMap<string, DesiredPolicyMessage>): Map<string, KernelPolicy> {
    const policies = new Map<string, KernelPolicy>();
    for (const target of targets) {
      const next = applyPolicyUpdate(this.policyInForce(target, desired), effect.update);
      if (!next.ok) throw new DomainError("invalid", "invalid_decision", next.violations.join("; "));
      policies.set(target, next.policy);
    }
    return policies;
  }

  /**
   * Records a node's acknowledgement; resolves once it is committed, with
   * why it was refused (checked in the same transaction), or null.
   */
  async acknowledge(nodeId: string, ack: DecisionAckMessage, now: number): Promise<string | null> {
    /** The decision this node acknowledges for the first time (a redelivery's ack is not counted again). */
    let firstAck: StoredDecision | undefined;
    const problem = await this.hub.store.write(async (tx) => {
      const stored = await tx.decisions.get(ack.id);
      if (!stored) return `unknown decision ${ack.id}`;
      if (!stored.targets.includes(nodeId)) return `decision ${ack.id} was not sent to this node`;
      if (!stored.acks.some((known) => known.nodeId === nodeId)) firstAck = stored;
      await tx.decisions.addAck(ack.id, { nodeId, ok: ack.ok, error: ack.error ?? null, appliedAt: ack.appliedAt, receivedAt: now, result: ack.result ?? null });
      return null;
    });
    if (firstAck) this.hub.metrics.decisionAcked(firstAck.message.type, firstAck.origin, ack.ok);
    if (problem === null) {
      this.changed(ack.id);
      // Gathered after the commit, not in it: a fleet's acks come by the thousand (change-feed.ts says why).
      this.hub.changeFeed?.announceCommitted({ kind: "decision", id: ack.id });
    }
    return problem;
  }

  /**
   * Inside the transaction that finished a work package: if it ran a
   * RESEARCH_TASK, records its outcome as its node's ack of that decision.
   * Returns what to tell once committed (metrics, the live stream), or null.
   */
  async acknowledgeFromWork(tx: StoreTransaction, pkg: WorkPackage, at: number): Promise<(() => void) | null> {
    const stored = await decisionToAcknowledge(tx, pkg);
    if (!stored) return null;
    const ack = ackOfPackage(pkg, at);
    await tx.decisions.addAck(stored.message.id, ack);
    return () => {
      this.hub.metrics.decisionAcked(stored.message.type, stored.origin, ack.ok);
      this.changed(stored.message.id);
      this.hub.changeFeed?.announceCommitted({ kind: "decision", id: stored.message.id });
    };
  }

  /**
   * Takes up desired policies as stored, written by another replica too
   * (hub/replicas/replica-sync.ts): each target's newest version wins (a
   * version is the seq of the decision that folded it), so a read that began
   * before this replica's own issue cannot put an older one back.
   */
  tookUp(stored: ReadonlyMap<string, DesiredPolicyMessage>): void {
    for (const [target, message] of stored) {
      const held = this.desired.get(target);
      if (!held || held.version < message.version) this.desired.set(target, message);
    }
  }

  desiredPolicy(target: string): DesiredPolicyMessage | undefined {
    return this.desired.get(target);
  }

  /**
   * Inside the transaction that removes a node (under its lock): closes every
   * decision it has not acknowledged with an ack-like row (ok false, error
   * "node_removed", at the removal), so none stays pending or is sent again to
   * whoever takes the id next, and drops its desired policy. Call forgotten()
   * once that transaction has committed.
   */
  async closeRemoved(tx: StoreTransaction, nodeId: string, at: number): Promise<void> {
    await tx.decisions.closePending(nodeId, NODE_REMOVED, at);
    await tx.decisions.deletePolicy(nodeId);
  }

  /** After the removal committed: the desired policy kept in memory goes too. */
  forgotten(nodeId: string): void {
    this.desired.delete(nodeId);
  }

  /**
   * Sends a node again every unexpired decision it has not acknowledged.
   * Called on each birth (every agent connect): the broker may have lost the
   * cmd (the hub crashed before its PUBACK, the embedded broker restarted, the
   * node was away). Agents apply a decision once by id and acknowledge a
   * redelivery again.
   */
  async redeliver(nodeId: string, now: number): Promise<void> {
    let pending: DecisionMessage[];
    try {
      pending = await this.hub.store.decisions.pendingFor(nodeId, now);
    } catch (error) {
      this.hub.log(`reading what ${nodeId} has pending failed: ${(error as Error).message}`);
      return;
    }
    for (const message of pending) {
      // A research task it got as a work package: the package's outcome acknowledges it.
      if (message.type === "RESEARCH_TASK" && (await hasResearchPackage(this.hub.store.work, message.id, nodeId).catch(() => false))) continue;
      this.hub
        .publish(nodeTopic(nodeId, "cmd"), JSON.stringify(message), deliveryOf("cmd"))
        .catch((error) => this.hub.log(`redelivering ${message.id} to ${nodeId} failed: ${(error as Error).message}`));
    }
  }
}

function policyTopic(target: string): string {
  return target === "fleet" ? FLEET_POLICY_TOPIC : nodeTopic(target, "policy");
}

function policyDelivery(target: string): Delivery {
  return deliveryOf(target === "fleet" ? "fleet/policy" : "policy");
}

function uniq<T>(value: T, index: number, all: T[]): boolean {
  return all.indexOf(value) === index;
}

async function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
