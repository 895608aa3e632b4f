// How a node looks in the HTTP API: snake_case JSON, secrets left out.
import type { FieldOrigin } from "../decisions/policy-origins.ts";
import type { Fleet } from "../nodes/fleet.ts";
import type { NodeRecord, Reported } from "../nodes/node-model.ts";
import type { MetricBucket, StoredReport } from "../store/hub-store.ts";

/** A row of the fleet list (and of the dashboard's live stream), with the node's PASS and HOLD verdicts of the last hour at `now`. */
export function nodeSummary(node: NodeRecord, fleet: Fleet, now: number): object {
  return {
    node_id: node.nodeId,
    health: node.health,
    health_since: node.healthSince,
    health_cause: node.healthCause,
    capabilities: node.capabilities,
    arch: node.arch,
    version: node.version,
    last_seen: node.live.lastSeen,
    last_heartbeat_at: node.live.lastHeartbeatAt,
    mode: node.live.mode,
    connectivity: node.live.connectivity,
    outbox_depth: node.live.outboxDepth,
    verdicts_last_hour: fleet.metrics.lastHour(node.nodeId, now),
  };
}

/**
 * `desiredPolicy`: the policy the node follows (its own, else the fleet's),
 * as the hub last signed it; `policyOrigins`: the decision that last set each
 * of its fields (null when the audit trail no longer folds).
 */
export function nodeDetail(
  node: NodeRecord,
  fleet: Fleet,
  desiredPolicyVersion: number | null,
  desiredPolicy: Record<string, unknown> | null = null,
  policyOrigins: ReadonlyMap<string, FieldOrigin> | null = null,
): object {
  const live = node.live;
  return {
    node_id: node.nodeId,
    registration_id: node.registrationId,
    public_key: node.publicKey,
    capabilities: node.capabilities,
    arch: node.arch,
    version: node.version,
    endpoint: node.endpoint,
    registered_at: node.registeredAt,
    credentials_issued_at: node.credentialsAt,
    health: { state: node.health, since: node.healthSince, cause: node.healthCause },
    transitions: fleet.transitions(node.nodeId),
    state: { state: live.state, at: live.stateAt, boot_id: live.bootId, session: live.session, reboots: live.reboots, reconnects: live.reconnects },
    kernel_config_hash: live.kernelConfigHash,
    allowed_models: live.allowTables,
    work_slots: live.workSlots,
    resumable_kinds: live.resumableKinds,
    last_seen: live.lastSeen,
    heartbeat: {
      last_at: live.lastHeartbeatAt,
      seq: live.heartbeatSeq,
      count: live.heartbeats,
      seq_gaps: live.heartbeatSeqGaps,
      uptime_s: live.uptimeS,
      load: live.load,
      rss_bytes: live.rssBytes,
      mode: live.mode,
      connectivity: live.connectivity,
      simulated: live.simulated,
      outbox_depth: live.outboxDepth,
      kernel: live.kernel,
      ess_state: live.essState,
    },
    verdicts: {
      last_seq: live.verdicts.lastSeq,
      by_verdict: live.verdicts.byVerdict,
      by_reason: live.verdicts.byReason,
      duplicates: live.verdicts.duplicates,
      missing: live.verdicts.missing,
    },
    closes: { last_seq: live.closes.lastSeq, count: live.closes.count, duplicates: live.closes.duplicates, missing: live.closes.missing },
    reports: {
      portfolio: reportedView(live.reports.portfolio),
      health: reportedView(live.reports.health),
      models: live.reports.models.map(reportedView),
      duplicates: live.reports.duplicates,
    },
    desired_policy_version: desiredPolicyVersion,
    desired_policy: desiredPolicy,
    policy_origins: policyOrigins && Object.fromEntries([...policyOrigins].map(([field, origin]) => [field, fieldOriginView(origin)])),
  };
}

/** Which decision set a policy field: its id, type and time, who made it ("operator" or the role's name), and whether it went to the fleet or the node. */
function fieldOriginView(origin: FieldOrigin): object {
  const role = origin.origin.kind === "role" ? origin.origin.role : null;
  return {
    decision_id: origin.decisionId,
    type: origin.type,
    issued_at: origin.issuedAt,
    origin: role ?? "operator",
    origin_kind: origin.origin.kind,
    from: origin.from,
  };
}

/** A strategy report as the API shows it: what the node sent, and when the hub received it. */
function reportedView<T>(reported: Reported<T> | null): { report: T; received_at: number } | null {
  return reported && { report: reported.report, received_at: reported.receivedAt };
}

/** A report of a node's history, with its seq (the `before` of the next page). */
export function storedReportView(stored: StoredReport): object {
  return { seq: stored.seq, received_at: stored.receivedAt, report: stored.report };
}

/** A node's 1-minute bucket of heartbeat metrics and verdicts, as the dashboard charts it. */
export function metricBucketView(bucket: MetricBucket): object {
  return { at: bucket.at, load: bucket.load, rss_bytes: bucket.rssBytes, outbox_depth: bucket.outboxDepth, verdicts: bucket.verdicts, by_reason: bucket.byReason };
}
