// A timeline of decisions: type, target, who made it (an operator, or a
// federation role, marked as such), when, and how many of its targets
// acknowledged, refused or are pending. The list comes summarised
// (`?summary=1`): a fleet decision at 10,000 nodes carries counts and the
// first pending ids, not 10,000 targets; its targets load a page at a time
// when opened (GET .../decisions/:id/targets). On a node's page (`node`),
// that node's own ack (`node_ack`).
import { useEffect, useState } from "preact/hooks";
import { api, query } from "../api.ts";
import { time } from "../format.ts";

const TARGETS_PAGE = 50;

export type DecisionOrigin = { kind: "operator" } | { kind: "role"; role: string; rule?: string };

export interface AckView {
  node_id: string;
  ok: boolean;
  error?: string | null;
  applied_at: number;
}

/** A decision as GET /api/federation/decisions?summary=1 lists it. */
export interface DecisionView {
  id: string;
  type: string;
  target: string;
  payload: Record<string, unknown>;
  issuedAt: number;
  expiresAt: number;
  origin: DecisionOrigin;
  /** The OVERRIDE that reversed it, or null. */
  overridden_by: string | null;
  summary: { targets: number; acked_ok: number; acked_error: number; pending: number; pending_first: string[] };
  /** With `?node=`: that node's ack, null while pending. */
  node_ack?: AckView | null;
}

interface TargetsPage {
  targets: { node_id: string; ack: AckView | null }[];
  next_after: string | null;
}

type TargetState = "pending" | "acked" | "all";

export function DecisionList({ decisions, node }: { decisions: DecisionView[]; node?: string }) {
  if (decisions.length === 0) return <p class="hint">No decisions.</p>;
  return (
    <ol class="decisions">
      {decisions.map((d) => (
        <li key={d.id} class="card" data-decision={d.id} data-origin={d.origin.kind}>
          <p>
            <strong>{d.type}</strong> → {d.target} <OriginBadge origin={d.origin} /> <time>{time(d.issuedAt)}</time>
          </p>
          <p class="hint">
            <code>{JSON.stringify(d.payload)}</code>
          </p>
          <p data-testid="ack-summary">
            {d.summary.acked_ok} of {d.summary.targets} acknowledged
            {d.summary.acked_error > 0 && `, ${d.summary.acked_error} refused`}, {d.summary.pending} pending
          </p>
          {node ? (
            <p>
              {node}: <AckText ack={d.node_ack ?? null} />
            </p>
          ) : (
            <Targets decision={d} />
          )}
        </li>
      ))}
    </ol>
  );
}

/** Who made a decision: an operator, or a role (badged, with the rule that fired). */
export function OriginBadge({ origin }: { origin: DecisionOrigin }) {
  if (origin.kind !== "role") return <span class="hint">by operator</span>;
  return (
    <span class="badge origin-role" title={origin.rule ? `rule ${origin.rule}` : undefined}>
      role {origin.role}
      {origin.rule && <span class="hint"> ({origin.rule})</span>}
    </span>
  );
}

function AckText({ ack }: { ack: AckView | null }) {
  if (!ack) return <>pending</>;
  return <>{ack.ok ? `applied ${time(ack.applied_at)}` : `refused (${ack.error ?? "no reason"})`}</>;
}

/** The decision's targets, loaded a page at a time once opened, kept to pending, acknowledged or all. */
function Targets({ decision }: { decision: DecisionView }) {
  const [open, setOpen] = useState(false);
  const [state, setState] = useState<TargetState>(decision.summary.pending > 0 ? "pending" : "all");
  const [rows, setRows] = useState<TargetsPage["targets"]>([]);
  const [nextAfter, setNextAfter] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const acks = decision.summary.acked_ok + decision.summary.acked_error;

  async function load(after: string | null) {
    try {
      const page = await api<TargetsPage>("GET", `/api/federation/decisions/${encodeURIComponent(decision.id)}/targets${query({ state, limit: TARGETS_PAGE, after })}`);
      setRows((before) => (after === null ? page.targets : [...before, ...page.targets]));
      setNextAfter(page.next_after);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }

  // The first page again when opened, when the state changes, and when acks come in.
  useEffect(() => {
    if (open) void load(null);
  }, [open, state, acks]);

  return (
    <details onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>
        Targets
        {decision.summary.pending_first.length > 0 && (
          <span class="hint">
            {" "}
            (pending: {decision.summary.pending_first.join(", ")}
            {decision.summary.pending > decision.summary.pending_first.length && ", …"})
          </span>
        )}
      </summary>
      {open && (
        <>
          <label class="inline">
            Show{" "}
            <select value={state} onChange={(e) => setState(e.currentTarget.value as TargetState)}>
              <option value="pending">pending</option>
              <option value="acked">acknowledged</option>
              <option value="all">all</option>
            </select>
          </label>
          {error && <p class="error">{error}</p>}
          <ul class="acks" data-testid="targets">
            {rows.map((target) => (
              <li key={target.node_id}>
                <a href={`#/nodes/${encodeURIComponent(target.node_id)}`}>{target.node_id}</a>: <AckText ack={target.ack} />
              </li>
            ))}
          </ul>
          {nextAfter !== null && (
            <button type="button" onClick={() => load(nextAfter)}>
              More targets
            </button>
          )}
        </>
      )}
    </details>
  );
}
