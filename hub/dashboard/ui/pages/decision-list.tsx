// A timeline of decisions: type, target, who issued it, when, and per node
// whether it acknowledged (and with what error) or is still pending.
import { time } from "../format.ts";

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

export function DecisionList({ decisions }: { decisions: DecisionView[] }) {
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
          <details>
            <summary>Targets</summary>
            <ul class="acks">
              {d.acks.map((a) => (
                <li key={a.node_id}>
                  <a href={`#/nodes/${encodeURIComponent(a.node_id)}`}>{a.node_id}</a>: {a.ok ? "applied" : `refused (${a.error ?? "no reason"})`} {time(a.applied_at)}
                </li>
              ))}
              {d.pending.map((node) => (
                <li key={node}>
                  <a href={`#/nodes/${encodeURIComponent(node)}`}>{node}</a>: pending
                </li>
              ))}
            </ul>
          </details>
        </li>
      ))}
    </ol>
  );
}

function originText(origin: DecisionView["origin"]): string {
  if (!origin) return "";
  if (typeof origin === "string") return `by ${origin}`;
  return `by ${origin.role ?? origin.kind ?? "operator"}`;
}
