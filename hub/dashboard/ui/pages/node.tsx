// Node: registration, health and its transitions, charts of the last hours
// (load, RSS, outbox depth, verdicts by reason) from the hub's 1-minute
// buckets, the strategy's portfolio and ESS state, the policy in force, the
// decisions sent to it with their acks, and Remove/Readmit (admin, confirmed).
import { useMemo, useState } from "preact/hooks";
import { api, query, type Session } from "../api.ts";
import { TimeChart, type Series } from "../chart.tsx";
import { confirmThen } from "../confirm-then.ts";
import { age, time } from "../format.ts";
import { DataTable } from "../data-table.tsx";
import { useApi, useNow } from "../hooks.ts";
import { DecisionList, OriginBadge, type DecisionView } from "./decision-list.tsx";

interface Bucket {
  at: number;
  load: number | null;
  rss_bytes: number | null;
  outbox_depth: number | null;
  verdicts: Record<string, number>;
  by_reason: Record<string, number>;
}

export function NodePage({ nodeId, session }: { nodeId: string; session: Session }) {
  const now = useNow();
  const [hours, setHours] = useState(6);
  const [version, setVersion] = useState(0);
  const detail = useApi<any>(`/federation/nodes/${encodeURIComponent(nodeId)}`, version);
  const metrics = useApi<{ buckets: Bucket[] }>(`/federation/nodes/${encodeURIComponent(nodeId)}/metrics${query({ hours })}`, version);
  const decisions = useApi<{ decisions: DecisionView[] }>(`/api/federation/decisions${query({ node: nodeId, limit: 20, summary: 1 })}`, version);
  const [message, setMessage] = useState<string | null>(null);

  const act = (label: string, method: string, path: string) =>
    confirmThen(
      `${label} node ${nodeId}?`,
      () => api(method, path),
      (failure) => {
        setMessage(failure ? `${label} failed: ${failure}` : `${label}: done`);
        if (!failure) setVersion((v) => v + 1);
      },
    );

  const node = detail.data;
  return (
    <>
      <p>
        <a href="#/fleet">← Fleet</a>
      </p>
      <h1>Node {nodeId}</h1>
      {detail.error && (
        <p role="alert" class="error">
          {detail.error}
        </p>
      )}
      {message && <p role="status">{message}</p>}
      {session.role === "admin" && (
        <div class="actions">
          <button type="button" class="danger" onClick={() => act("Remove", "DELETE", `/federation/nodes/${encodeURIComponent(nodeId)}`)}>
            Remove
          </button>
          <button type="button" onClick={() => act("Readmit", "POST", `/federation/nodes/${encodeURIComponent(nodeId)}/readmit`)}>
            Readmit
          </button>
        </div>
      )}
      {node && (
        <div class="grid">
          <section class="card" aria-labelledby="registration">
            <h2 id="registration">Registration</h2>
            <dl>
              <dt>Registered</dt>
              <dd>{time(node.registered_at)}</dd>
              <dt>Version / arch</dt>
              <dd>
                {node.version} / {node.arch}
              </dd>
              <dt>Capabilities</dt>
              <dd>{node.capabilities.join(", ")}</dd>
              <dt>Endpoint</dt>
              <dd>{node.endpoint ?? "—"}</dd>
              <dt>Last seen</dt>
              <dd>{age(node.last_seen, now)}</dd>
              <dt>Mode</dt>
              <dd>{node.heartbeat?.mode ?? "—"}</dd>
            </dl>
          </section>
          <section class="card" aria-labelledby="health">
            <h2 id="health">Health</h2>
            <p>
              <span class={`badge health-${node.health.state}`}>{node.health.state}</span> since {time(node.health.since)}
              {node.health.cause && ` (${node.health.cause})`}
            </p>
            <ol class="timeline">
              {[...(node.transitions ?? [])].reverse().slice(0, 20).map((t: any, i: number) => (
                <li key={i}>
                  <time>{time(t.at)}</time> {t.from ?? "—"} → <strong>{t.to}</strong> {t.cause && <span class="cause">{t.cause}</span>}
                </li>
              ))}
            </ol>
          </section>
          <section class="card" aria-labelledby="strategy">
            <h2 id="strategy">Portfolio and ESS</h2>
            <p>ESS state: {node.heartbeat?.ess_state ?? "not reported"}</p>
            {node.reports?.portfolio ? <pre>{JSON.stringify(node.reports.portfolio.report, null, 2)}</pre> : <p class="hint">No portfolio reported.</p>}
          </section>
          <PolicySection node={node} />
        </div>
      )}
      <section aria-labelledby="charts">
        <h2 id="charts">Last hours</h2>
        <label class="inline">
          Window{" "}
          <select value={hours} onChange={(e) => setHours(Number(e.currentTarget.value))}>
            {[1, 6, 12, 24].map((h) => (
              <option key={h} value={h}>
                {h} h
              </option>
            ))}
          </select>
        </label>
        {metrics.error && <p class="error">{metrics.error}</p>}
        <NodeCharts buckets={metrics.data?.buckets ?? []} hours={hours} />
      </section>
      <section aria-labelledby="node-decisions">
        <h2 id="node-decisions">Decisions</h2>
        <DecisionList decisions={decisions.data?.decisions ?? []} node={nodeId} />
      </section>
    </>
  );
}

/** Fields the policy leaves at their default (null, empty) are left out: the table shows what decisions changed. */
function isSet(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}

/** Which decision last set a policy field (GET /federation/nodes/:id, `policy_origins`). */
interface FieldOrigin {
  decision_id: string;
  type: string;
  issued_at: number;
  /** "operator" or the role's name. */
  origin: string;
  origin_kind: "operator" | "role";
  from: "fleet" | "node";
}

function PolicySection({ node }: { node: any }) {
  const policy: Record<string, unknown> = node.desired_policy ?? {};
  // Per field, the decision that last set it; a field none set is at its default.
  const origins: Record<string, FieldOrigin> | null = node.policy_origins ?? null;
  const whose = node.desired_policy_version === null ? "the fleet's policy" : `its own policy, version ${node.desired_policy_version}`;
  const fields = Object.keys(policy).filter((field) => isSet(policy[field]));
  return (
    <section class="card" aria-labelledby="policy">
      <h2 id="policy">Policy in force</h2>
      <p class="hint">The node follows {whose}; fields not listed are at their defaults.</p>
      {fields.length > 0 && (
        <DataTable label="Policy fields" columns={["Field", "Value", "From"]}>
          {fields.map((field) => (
            <tr key={field} data-field={field}>
              <td>{field}</td>
              <td>
                <code>{JSON.stringify(policy[field])}</code>
              </td>
              <td>{origins ? <FieldOriginText origin={origins[field]} /> : whose}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </section>
  );
}

/** "FREEZE (fleet) by role supervisor, 12:03:04, dec_…", or "default" when no decision set the field. */
function FieldOriginText({ origin }: { origin: FieldOrigin | undefined }) {
  if (!origin) return <span class="hint">default</span>;
  return (
    <span data-decision-id={origin.decision_id}>
      {origin.type} ({origin.from === "fleet" ? "fleet" : "this node"}) <OriginBadge origin={origin.origin_kind === "role" ? { kind: "role", role: origin.origin } : { kind: "operator" }} />{" "}
      <time>{time(origin.issued_at)}</time> <code class="hint">{origin.decision_id}</code>
    </span>
  );
}

function NodeCharts({ buckets, hours }: { buckets: Bucket[]; hours: number }) {
  const charts = useMemo(() => {
    const to = Math.round(Date.now() / 1000) + 60;
    const window: [number, number] = [to - hours * 3600, to];
    const times = buckets.map((b) => Math.round(b.at / 1000));
    const column = (pick: (b: Bucket) => number | null): (number | null)[] => buckets.map(pick);
    const reasons = [...new Set(buckets.flatMap((b) => Object.keys(b.by_reason ?? {})))].sort();
    const byReason: Series[] = reasons.map((reason) => ({ label: reason, values: column((b) => b.by_reason?.[reason] ?? 0) }));
    return {
      window,
      times,
      load: [{ label: "load", values: column((b) => b.load) }],
      rss: [{ label: "RSS MiB", values: column((b) => (b.rss_bytes === null ? null : Math.round((b.rss_bytes / 1024 ** 2) * 10) / 10)) }],
      outbox: [{ label: "outbox depth", values: column((b) => b.outbox_depth) }],
      verdicts: [
        { label: "PASS / min", values: column((b) => b.verdicts?.PASS ?? 0) },
        { label: "HOLD / min", values: column((b) => b.verdicts?.HOLD ?? 0) },
      ],
      byReason,
    };
  }, [buckets, hours]);
  return (
    <div class="charts">
      <TimeChart title="Load" times={charts.times} window={charts.window} series={charts.load} />
      <TimeChart title="RSS" times={charts.times} window={charts.window} series={charts.rss} />
      <TimeChart title="Outbox depth" times={charts.times} window={charts.window} series={charts.outbox} />
      <TimeChart title="Verdicts per minute" times={charts.times} window={charts.window} series={charts.verdicts} />
      <TimeChart title="Verdicts by reason per minute" times={charts.times} window={charts.window} series={charts.byReason} />
    </div>
  );
}

