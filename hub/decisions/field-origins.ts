// The node view's `policy_origins`, read from the audit trail and kept per
// version of the desired policy a node follows: folding a long trail (tens
// of thousands of fleet decisions) on every view of a node page would hold
// the hub's event loop for a tenth of a second each time. A policy's version
// is the seq of the decision that last changed it (an OVERRIDE included), so
// a kept answer is right until the version moves.
import type { HubContext } from "../hub-context.ts";
import type { NodeRecord } from "../nodes/node-model.ts";
import type { Decisions } from "./decisions.ts";
import { policyOrigins, type FieldOrigin } from "./policy-origins.ts";

/** Answers kept, the oldest dropped first: the fleet's, and those of nodes with a policy of their own whose page was opened. */
const KEPT = 1000;

export class FieldOrigins {
  private readonly kept = new Map<string, { version: number; origins: Map<string, FieldOrigin> }>();

  constructor(
    private readonly hub: HubContext,
    private readonly decisions: Decisions,
  ) {}

  /**
   * Which decision last set each field of the policy `node` follows; null
   * (and logged) when the trail no longer folds. A node without a policy of
   * its own follows the fleet's, whose origins all its pages share: it has
   * no decision of its own since it registered that still sets a field
   * (one would have given it its own policy).
   */
  async of(node: NodeRecord): Promise<ReadonlyMap<string, FieldOrigin> | null> {
    const own = this.decisions.desiredPolicy(node.nodeId);
    const target = own ? node.nodeId : "fleet";
    const version = (own ?? this.decisions.desiredPolicy("fleet"))?.version ?? 0;
    const kept = this.kept.get(target);
    if (kept?.version === version) return kept.origins;
    if (version === 0) return new Map(); // no decision has set anything yet

    const history = await this.hub.store.decisions.addressedTo(own ? ["fleet", node.nodeId] : ["fleet"]);
    const folded = policyOrigins({ target, since: own ? node.registeredAt : 0 }, history);
    if (!folded.ok) {
      this.hub.log(`policy origins of ${node.nodeId}: ${folded.problem}`);
      return null;
    }
    this.kept.delete(target);
    this.kept.set(target, { version, origins: folded.value });
    if (this.kept.size > KEPT) this.kept.delete(this.kept.keys().next().value!);
    return folded.value;
  }
}
