// Submitting and cancelling work packages (the HTTP API's domain side). A
// submit is stored in one write that first looks for its idempotency key,
// so a retried submit finds the package(s) the first one made; a fleet
// submit stores one package per matching node, sharing a group. The
// scheduler (work-scheduler.ts) is kicked after, to place them at once.
import type { HubContext } from "../hub-context.ts";
import { DomainError, invalidInput, unknownNodeError } from "../errors.ts";
import { randomSecret } from "../identity/secrets.ts";
import type { NodeRecord } from "../nodes/node-model.ts";
import type { NewWorkPackage, WorkPackage } from "./work-model.ts";
import { NOBODY_TOLD, runAfterCommit, transitionTelling, type OnWorkFinished } from "./work-finished.ts";
import { WorkSubmit } from "./work-request.ts";

export interface Submitted {
  /** The package's id, or the group's for a fleet submit. */
  id: string;
  packages: WorkPackage[];
  /** false: a retry, answered with what the first submit made. */
  created: boolean;
}

export function advertisesAll(node: NodeRecord, requires: readonly string[]): boolean {
  return requires.every((capability) => node.capabilities.includes(capability));
}

export class WorkPackages {
  constructor(
    private readonly hub: HubContext,
    /** Called after a submit or cancel committed: the scheduler looks again. */
    private readonly kick: () => void = () => {},
    /** Told of a package cancelled, inside the cancel's transaction. */
    private readonly onFinished: OnWorkFinished = NOBODY_TOLD,
  ) {}

  async submit(body: unknown): Promise<Submitted> {
    const parsed = WorkSubmit.safeParse(body);
    if (!parsed.success) throw invalidInput(parsed.error.issues);
    const request = parsed.data;
    const now = this.hub.clock();
    const targets = this.targetsOf(request.target, request.requires);
    const base = {
      kind: request.kind,
      payload: request.payload,
      requires: request.requires,
      strategy: request.strategy,
      deadlineAt: request.deadline_s === undefined ? null : now + request.deadline_s * 1000,
      leaseMs: request.lease_s * 1000,
      maxAttempts: request.max_attempts,
      createdAt: now,
    };
    const submitted = await this.hub.store.write(async (tx): Promise<Submitted> => {
      const key = request.idempotency_key;
      const existing = key === undefined ? undefined : await tx.work.byIdempotencyKey(key);
      if (existing) return { id: existing.group ?? existing.id, packages: existing.group ? await tx.work.group(existing.group) : [existing], created: false };
      const ids = targets.map(() => newWorkPackageId());
      const group = request.target === "fleet" ? ids[0]! : null;
      const packages: WorkPackage[] = [];
      for (const [i, target] of targets.entries()) {
        const pkg: NewWorkPackage = { ...base, id: ids[i]!, target, group, idempotencyKey: i === 0 ? (key ?? null) : null };
        packages.push(await tx.work.add(pkg));
      }
      return { id: group ?? ids[0]!, packages, created: true };
    });
    if (submitted.created) this.kick();
    return submitted;
  }

  async cancel(id: string): Promise<WorkPackage> {
    const afterCommit: Array<() => void> = [];
    const outcome = await this.hub.store.write((tx) => transitionTelling(tx, id, { to: "cancelled", cause: "cancelled by an operator" }, this.hub.clock(), this.onFinished, afterCommit));
    runAfterCommit(afterCommit, this.hub.log);
    if (outcome.ok) {
      this.kick();
      return outcome.package;
    }
    if (outcome.reason === "unknown") throw unknownPackage(id);
    throw new DomainError("conflict", "work_finished", `work package ${id} is ${outcome.package!.state} and cannot be cancelled`);
  }

  /** "any" stays "any"; "fleet" becomes every registered node advertising what it requires; a node id must be registered. */
  private targetsOf(target: string, requires: readonly string[]): string[] {
    if (target === "any") return ["any"];
    if (target === "fleet") {
      const nodes = [...this.hub.fleet.all()].filter((node) => advertisesAll(node, requires)).map((node) => node.nodeId);
      if (nodes.length === 0) throw new DomainError("conflict", "no_matching_nodes", `no registered node advertises ${requires.join(", ") || "anything"}`);
      return nodes.sort();
    }
    const node = this.hub.fleet.get(target);
    if (!node) throw unknownNodeError(target);
    if (!advertisesAll(node, requires)) throw new DomainError("conflict", "node_lacks_capability", `${target} does not advertise ${requires.join(", ")}`);
    return [target];
  }
}

export function newWorkPackageId(): string {
  return `wp_${randomSecret(12)}`;
}

export function unknownPackage(id: string): DomainError {
  return new DomainError("not_found", "unknown_work_package", `no work package ${id}`);
}
