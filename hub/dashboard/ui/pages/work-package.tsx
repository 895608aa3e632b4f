// One work package (#/work/<id>): where it stands, its payload and result or
// error, every attempt (node, times, outcome) and every event of its
// history, refused messages included; an admin may cancel it while it is
// not finished (confirmed first; the write carries the CSRF token like every
// other). Fetched again every few seconds while it is not finished.
import { useEffect, useState } from "preact/hooks";
import { api, type Session } from "../api.ts";
import { confirmThen } from "../confirm-then.ts";
import { percent, time } from "../format.ts";
import { useApi } from "../hooks.ts";
import { DataTable } from "../data-table.tsx";
import { FINISHED_STATES } from "../work-examples.ts";
import type { WorkRow } from "./work.tsx";

const REFRESH_MS = 2000;

interface WorkDetail extends WorkRow {
  strategy: string;
  requires: string[];
  payload: Record<string, unknown>;
  result: Record<string, unknown> | null;
  lease_expires_at: number | null;
  deadline_at: number | null;
  idempotency_key: string | null;
  attempts: { attempt: number; node: string; leased_at: number; ended_at: number | null; outcome: string | null; error: string | null }[];
  events: { at: number; from: string; to: string | null; attempt: number; node: string | null; cause: string }[];
}

export function WorkPackagePage({ id, session }: { id: string; session: Session }) {
  const [version, setVersion] = useState(0);
  const { data, error } = useApi<WorkDetail>(`/api/federation/work/${encodeURIComponent(id)}`, version);
  const [status, setStatus] = useState<string | null>(null);
  const finished = data !== null && FINISHED_STATES.includes(data.state);

  useEffect(() => {
    if (finished) return;
    const timer = setInterval(() => setVersion((v) => v + 1), REFRESH_MS);
    return () => clearInterval(timer);
  }, [finished]);

  const cancel = () =>
    confirmThen(
      `Cancel work package ${id}? A node running it is not stopped, but its result is refused.`,
      () => api("POST", `/api/federation/work/${encodeURIComponent(id)}/cancel`),
      (failure) => {
        setStatus(failure ? `Not cancelled: ${failure}` : "Cancelled.");
        setVersion((v) => v + 1);
      },
    );

  return (
    <>
      <h1>Work package {id}</h1>
      <p>
        <a href="#/work">All work</a>
      </p>
      {error && <p class="error">{error}</p>}
      {status && <p role="status">{status}</p>}
      {data && (
        <>
          <section class="card" aria-labelledby="package">
            <h2 id="package">Package</h2>
            <dl>
              <dt>State</dt>
              <dd data-testid="work-state">{data.state}</dd>
              <dt>Kind</dt>
              <dd>{data.kind}</dd>
              <dt>Target</dt>
              <dd>{data.target}</dd>
              <dt>Node</dt>
              <dd>{data.node ?? "—"}</dd>
              <dt>Attempt</dt>
              <dd>
                {data.attempt} of {data.max_attempts}
              </dd>
              <dt>Progress</dt>
              <dd>{percent(data.progress)}</dd>
              <dt>Requires</dt>
              <dd>{data.requires.join(", ") || "—"}</dd>
              <dt>Strategy</dt>
              <dd>{data.strategy}</dd>
              <dt>Lease expires</dt>
              <dd>{time(data.lease_expires_at)}</dd>
              <dt>Deadline</dt>
              <dd>{time(data.deadline_at)}</dd>
              <dt>Group</dt>
              <dd>{data.group ?? "—"}</dd>
              <dt>Idempotency key</dt>
              <dd>{data.idempotency_key ?? "—"}</dd>
              <dt>Submitted</dt>
              <dd>{time(data.created_at)}</dd>
            </dl>
            {session.role === "admin" && !finished && (
              <p>
                <button type="button" class="danger" onClick={() => void cancel()}>
                  Cancel package
                </button>
              </p>
            )}
          </section>
          <div class="grid">
            <section class="card" aria-labelledby="payload">
              <h2 id="payload">Payload</h2>
              <pre>{JSON.stringify(data.payload, null, 2)}</pre>
            </section>
            <section class="card" aria-labelledby="outcome">
              <h2 id="outcome">Outcome</h2>
              {data.error && <p class="error">{data.error}</p>}
              <pre data-testid="work-result">{data.result ? JSON.stringify(data.result, null, 2) : finished ? "no result" : "not finished"}</pre>
            </section>
          </div>
          <section aria-labelledby="attempts">
            <h2 id="attempts">Attempts</h2>
            <DataTable label="Attempts" columns={["Attempt", "Node", "Leased", "Ended", "Outcome", "Error"]}>
              {data.attempts.map((a) => (
                <tr key={a.attempt} data-attempt={a.attempt}>
                  <td class="num">{a.attempt}</td>
                  <td>{a.node}</td>
                  <td>{time(a.leased_at)}</td>
                  <td>{time(a.ended_at)}</td>
                  <td>{a.outcome ?? "running"}</td>
                  <td>{a.error ?? ""}</td>
                </tr>
              ))}
            </DataTable>
          </section>
          <section aria-labelledby="history">
            <h2 id="history">History</h2>
            <DataTable label="History" columns={["At", "From", "To", "Attempt", "Node", "Cause"]}>
              {data.events.map((e, i) => (
                <tr key={i} data-event={e.to ?? "refused"}>
                  <td>{time(e.at)}</td>
                  <td>{e.from}</td>
                  <td>{e.to ?? "refused"}</td>
                  <td class="num">{e.attempt}</td>
                  <td>{e.node ?? "—"}</td>
                  <td>{e.cause}</td>
                </tr>
              ))}
            </DataTable>
          </section>
        </>
      )}
    </>
  );
}
