// Federation: the roles (enabled, mode, last decision), the totals, the
// fleet's mode and capital profile over time and its freezes (the mode,
// freeze and capital profile decisions, whoever made them, a role's marked
// as such, those an OVERRIDE reversed struck out), and the alerts raised.
import { useEffect, useState } from "preact/hooks";
import { time } from "../format.ts";
import { DataTable } from "../data-table.tsx";
import { useApi } from "../hooks.ts";
import { listen } from "../stream.ts";
import { OriginBadge, type DecisionView } from "./decision-list.tsx";

interface Status {
  nodes: { total: number; by_health: Record<string, number>; removed: number };
  roles: Record<string, boolean>;
  role_status: Record<string, { mode: string; last_evaluation: number | null; last_decision: { type?: string; target?: string; at?: number; issued_at?: number } | null }>;
  total_decisions: number;
  last_update: string | null;
}

interface Alert {
  kind?: string;
  severity?: string;
  message?: string;
  at?: number;
  raised_at?: number;
  node_id?: string | null;
  [key: string]: unknown;
}

/** The decisions that set the fleet's mode, freezes and capital profile. */
const POLICY_TYPES = ["MODE_CHANGE", "FREEZE", "CAPITAL_PROFILE"];
const HISTORY_SHOWN = 50;

export function FederationPage() {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const stops = [listen("decision", () => setVersion((v) => v + 1)), listen("alert", () => setVersion((v) => v + 1))];
    return () => stops.forEach((stop) => stop());
  }, []);
  const status = useApi<Status>("/api/federation/status", version);
  // Only those types, summarised: other decisions (a role's hourly allocations) do not push them out of the page.
  const decisions = useApi<{ decisions: DecisionView[] }>(`/api/federation/decisions?summary=1&pending_shown=0&limit=${HISTORY_SHOWN}&types=${POLICY_TYPES.join(",")}`, version);
  const alerts = useApi<{ alerts: Alert[] }>("/api/federation/alerts?limit=50", version);
  const s = status.data;
  const changes = decisions.data?.decisions ?? [];
  const now = fleetNow(changes);

  return (
    <>
      <h1>Federation</h1>
      {status.error && <p class="error">{status.error}</p>}
      {s && (
        <ul class="counts" aria-label="Totals">
          <li class="count">
            <span class="n">{s.nodes.total}</span> nodes
          </li>
          <li class="count">
            <span class="n">{s.total_decisions}</span> decisions
          </li>
          <li class="count">
            <span class="n">{s.nodes.removed}</span> removed
          </li>
          <li class="count">last update {s.last_update ?? "never"}</li>
        </ul>
      )}
      <section aria-labelledby="roles">
        <h2 id="roles">Roles</h2>
        <DataTable label="Roles" columns={["Role", "Enabled", "Mode", "Last evaluation", "Last decision"]}>
          {s &&
            Object.entries(s.role_status ?? {}).map(([name, role]) => (
              <tr key={name}>
                <td>{name}</td>
                <td>{s.roles[name] ? "yes" : "no"}</td>
                <td>{role.mode}</td>
                <td>{time(role.last_evaluation)}</td>
                <td>{role.last_decision ? `${role.last_decision.type ?? ""} → ${role.last_decision.target ?? ""} ${time(role.last_decision.at ?? role.last_decision.issued_at)}` : "none"}</td>
              </tr>
            ))}
        </DataTable>
      </section>
      <section aria-labelledby="over-time">
        <h2 id="over-time">Mode, capital profile and freezes over time</h2>
        <p data-testid="fleet-now">
          Fleet mode by the latest decisions: <strong>{now.mode}</strong>; capital profile: <strong>{now.profile}</strong>; freezes: <strong>{now.freezes}</strong> (of the last {changes.length} mode, freeze and capital profile decisions).
        </p>
        {changes.length === 0 ? (
          <p class="hint">No mode, freeze or capital profile decision yet.</p>
        ) : (
          <DataTable label="Mode, capital profile and freezes" columns={["Issued", "Type", "Target", "Change", "By", "Acked"]}>
            {changes.map((d) => (
              <tr key={d.id} data-decision={d.id} data-origin={d.origin.kind} class={isFreeze(d) ? "freeze" : undefined}>
                <td>{time(d.issuedAt)}</td>
                <td>{d.type}</td>
                <td>{d.target}</td>
                <td>
                  {d.overridden_by ? <del>{changeText(d)}</del> : changeText(d)}
                  {d.overridden_by && <span class="hint"> reversed by {d.overridden_by}</span>}
                </td>
                <td>
                  <OriginBadge origin={d.origin} />
                </td>
                <td>
                  {d.summary.acked_ok}/{d.summary.targets}
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
      <section aria-labelledby="alerts">
        <h2 id="alerts">Alerts</h2>
        {(alerts.data?.alerts ?? []).length === 0 ? (
          <p class="hint">No alerts.</p>
        ) : (
          <ul class="alerts">
            {alerts.data!.alerts.map((a, i) => (
              <li key={i} class={`alert severity-${a.severity ?? "info"}`}>
                <time>{time(a.at ?? a.raised_at)}</time> <strong>{a.kind}</strong> {a.node_id ?? ""} {a.message ?? ""}
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}

/**
 * The fleet's mode and capital profile as its latest fleet-wide decisions set
 * them (newest first in `changes`): a FREEZE freezes, an untimed MODE_CHANGE
 * sets the mode (and ends a freeze); a timed one is a window and is skipped.
 */
function fleetNow(changes: DecisionView[]): { mode: string; profile: string; freezes: number } {
  const fleet = changes.filter((d) => d.target === "fleet" && !d.overridden_by);
  const modeSetter = fleet.find((d) => d.type === "FREEZE" || (d.type === "MODE_CHANGE" && !d.payload.duration_minutes && !d.payload.duration_s && !("from" in d.payload)));
  const mode = modeSetter ? (modeSetter.type === "FREEZE" ? "FREEZE" : String(modeSetter.payload.mode)) : "as configured";
  const profileSetter = fleet.find((d) => d.type === "CAPITAL_PROFILE");
  const profile = profileSetter ? String(profileSetter.payload.profile ?? JSON.stringify(profileSetter.payload)) : "as configured";
  return { mode, profile, freezes: changes.filter(isFreeze).length };
}

function isFreeze(d: DecisionView): boolean {
  return d.type === "FREEZE" || d.payload.mode === "FREEZE";
}

/** What a decision changes: the mode (with its duration), the freeze's length, or the profile's fields. */
function changeText(d: DecisionView): string {
  const minutes = Number(d.payload.duration_minutes ?? 0) || Number(d.payload.duration_s ?? 0) / 60;
  const lasting = minutes > 0 ? ` for ${Math.round(minutes * 10) / 10} min` : "";
  if (d.type === "MODE_CHANGE") return `${String(d.payload.mode)}${lasting}`;
  if (d.type === "FREEZE") return `FREEZE${lasting || " until unfrozen"}${typeof d.payload.reason === "string" ? `: ${d.payload.reason}` : ""}`;
  return JSON.stringify(d.payload);
}
