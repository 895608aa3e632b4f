// A timeline of decisions: type, target, who issued it, when, and per node
// whether it acknowledged (and with what error) or is still pending. A fleet
// decision at 10,000 nodes has 10,000 of those: the list shows the first
// SHOWN_TARGETS; on a node's page (`node`), that node's alone.
import { time } from "../format.ts";

const SHOWN_TARGETS = 100;

export interface DecisionView {
  id: string;
  type: string;
  target: string;
  payload: Record<string, unknown>;
  issuedAt: number;
  expiresAt: number;
  origin?: { kind?: string; role?: string } | string | null;
  targets: string[];
  acks: { node_id: string; ok: boolean; error?: string | null; applied_at: number }[];
  pending: string[];
}

export function DecisionList({ decisions, node }: { decisions: DecisionView[]; node?: string }) {
  if (decisions.length === 0) return <p class="hint">No decisions.</p>;
  return (
    <ol class="decisions">
      {decisions.map((d) => (
        <li key={d.id} class="card" data-decision={d.id}>
          <p>
            <strong>{d.type}</strong> → {d.target} <span class="hint">{originText(d.origin)}</span> <time>{time(d.issuedAt)}</time>
          </p>
          <p class="hint">
            <code>{JSON.stringify(d.payload)}</code>
          </p>
          <p data-testid="ack-summary">
            {d.acks.filter((a) => a.ok).length} of {d.targets.length} acknowledged
            {d.acks.some((a) => !a.ok) && `, ${d.acks.filter((a) => !a.ok).length} refused`}, {d.pending.length} pending
          </p>
          {node ? (
            <p>
              {node}: <NodeAck decision={d} node={node} />
            </p>
          ) : (
            <details>
              <summary>Targets</summary>
              <ul class="acks">
                {[...d.acks.map((a) => a.node_id), ...d.pending].slice(0, SHOWN_TARGETS).map((target) => (
                  <li key={target}>
                    <a href={`#/nodes/${encodeURIComponent(target)}`}>{target}</a>: <NodeAck decision={d} node={target} />
                  </li>
                ))}
              </ul>
              {d.targets.length > SHOWN_TARGETS && <p class="hint">and {d.targets.length - SHOWN_TARGETS} more</p>}
            </details>
          )}
        </li>
      ))}
    </ol>
  );
}

function NodeAck({ decision, node }: { decision: DecisionView; node: string }) {
  const ack = decision.acks.find((a) => a.node_id === node);
  if (!ack) return <>{decision.pending.includes(node) ? "pending" : "not a target"}</>;
  return <>{ack.ok ? `applied ${time(ack.applied_at)}` : `refused (${ack.error ?? "no reason"})`}</>;
}

function originText(origin: DecisionView["origin"]): string {
  if (!origin) return "";
  if (typeof origin === "string") return `by ${origin}`;
  return `by ${origin.role ?? origin.kind ?? "operator"}`;
}
