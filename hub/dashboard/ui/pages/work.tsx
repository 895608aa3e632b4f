// Work: the queue by state (GET /api/federation/work/summary), the packages
// in flight per node with its round trip, the packages newest first with a
// state filter (each links to its detail, work-package.tsx), and for an admin
// a form that submits one of the built-in kinds (the hub validates it; its
// error shows beside the form). Packages change on nodes, not on the
// stream: the page asks again every few seconds.
import { useEffect, useState } from "preact/hooks";
import { Field } from "../field.tsx";
import { api, query, type Session } from "../api.ts";
import { Filters, ChoiceFilter } from "../filters.tsx";
import { percent, plural, time } from "../format.ts";
import { useApi } from "../hooks.ts";
import { DataTable } from "../data-table.tsx";
import { ExampleSelect, PayloadField, useExamplePayload } from "../example-payload.tsx";
import { WORK_EXAMPLES, WORK_STATES } from "../work-examples.ts";

const REFRESH_MS = 3000;
const PAGE_SIZE = 50;

export interface WorkRow {
  id: string;
  kind: string;
  state: string;
  target: string;
  group: string | null;
  node: string | null;
  attempt: number;
  max_attempts: number;
  progress: number | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

interface Summary {
  by_state: Record<string, number>;
  in_flight_by_node: Record<string, number>;
  rtt_ms_by_node: Record<string, number>;
}

/** Bumps a number every `ms`, to fetch again. */
function useRefresh(ms: number): [number, () => void] {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setVersion((v) => v + 1), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return [version, () => setVersion((v) => v + 1)];
}

export function WorkPage({ session }: { session: Session }) {
  const [state, setState] = useState("");
  const [version, refresh] = useRefresh(REFRESH_MS);
  const summary = useApi<Summary>("/api/federation/work/summary", version);
  const list = useApi<{ packages: WorkRow[] }>(`/api/federation/work${query({ state, limit: PAGE_SIZE })}`, version);
  const byState = summary.data?.by_state ?? {};
  const nodes = Object.keys({ ...summary.data?.in_flight_by_node, ...summary.data?.rtt_ms_by_node }).sort();

  return (
    <>
      <h1>Work</h1>
      <ul class="counts" aria-label="Work packages by state">
        {WORK_STATES.map((s) => (
          <li key={s} class="count">
            <span class="n" data-testid={`work-count-${s}`}>
              {byState[s] ?? 0}
            </span>{" "}
            {s}
          </li>
        ))}
      </ul>
      {summary.error && <p class="error">{summary.error}</p>}
      {session.role === "admin" && <SubmitForm submitted={refresh} />}
      <section aria-labelledby="per-node">
        <h2 id="per-node">In flight per node</h2>
        {nodes.length === 0 ? (
          <p class="hint">No node holds a package.</p>
        ) : (
          <DataTable label="In flight per node" columns={["Node", "In flight", "Round trip (ms)"]}>
            {nodes.map((node) => (
              <tr key={node} data-work-node={node}>
                <td>
                  <a href={`#/nodes/${encodeURIComponent(node)}`}>{node}</a>
                </td>
                <td class="num">{summary.data?.in_flight_by_node[node] ?? 0}</td>
                <td class="num">{summary.data?.rtt_ms_by_node[node] ?? "—"}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
      <section aria-labelledby="packages">
        <h2 id="packages">Packages</h2>
        <Filters>
          <ChoiceFilter label="State" choices={WORK_STATES} value={state} choose={setState} />
        </Filters>
        {list.error && <p class="error">{list.error}</p>}
        <DataTable label="Work packages" columns={["Package", "Kind", "State", "Target", "Node", "Attempt", "Progress", "Updated"]}>
          {(list.data?.packages ?? []).map((p) => (
            <tr key={p.id} data-work={p.id} data-state={p.state}>
              <td>
                <a href={`#/work/${encodeURIComponent(p.id)}`}>
                  <code>{p.id}</code>
                </a>
              </td>
              <td>{p.kind}</td>
              <td>{p.state}</td>
              <td>{p.target}</td>
              <td>{p.node ?? "—"}</td>
              <td class="num">
                {p.attempt} of {p.max_attempts}
              </td>
              <td class="num">{percent(p.progress)}</td>
              <td>{time(p.updated_at)}</td>
            </tr>
          ))}
        </DataTable>
      </section>
    </>
  );
}

/** A payload as the kind gets it: gate.replay's 0..0 range becomes the last 24 hours. */
function payloadFor(kind: string, payload: Record<string, unknown>): Record<string, unknown> {
  if (kind === "gate.replay" && payload.from === 0 && payload.to === 0) return { ...payload, from: Date.now() - 86_400_000, to: Date.now() };
  return payload;
}

function SubmitForm({ submitted }: { submitted(): void }) {
  const form = useExamplePayload(WORK_EXAMPLES, "diagnostics");
  const [target, setTarget] = useState("any");
  const [requires, setRequires] = useState("");
  const [leaseS, setLeaseS] = useState("60");
  const [deadlineS, setDeadlineS] = useState("");
  const [status, setStatus] = useState<string | null>(null);
  const kind = form.name;

  const submit = async (event: Event) => {
    event.preventDefault();
    const parsed = form.parse();
    if (!parsed) return;
    const body: Record<string, unknown> = {
      kind,
      payload: payloadFor(kind, parsed),
      target: target.trim() || "any",
      requires: requires.split(",").map((c) => c.trim()).filter(Boolean),
      lease_s: Number(leaseS),
    };
    if (deadlineS) body.deadline_s = Number(deadlineS);
    try {
      const answer = await api<{ id: string; packages: WorkRow[] }>("POST", "/api/federation/work", body);
      form.setProblem(null);
      setStatus(`Submitted ${answer.id} (${plural(answer.packages.length, "package")}).`);
      submitted();
    } catch (e) {
      setStatus(null);
      form.setProblem((e as Error).message);
    }
  };

  return (
    <section class="card" aria-labelledby="submit">
      <h2 id="submit">Submit work</h2>
      <form class="issue" onSubmit={submit}>
        <ExampleSelect label="Kind" form={form} />
        <Field label="Target (any, fleet or a node id)" value={target} set={setTarget} required />
        <Field label="Requires (capabilities, comma separated)" value={requires} set={setRequires} />
        <Field label="Lease (s)" value={leaseS} set={setLeaseS} type="number" min={1} required />
        <Field label="Deadline in (s, optional)" value={deadlineS} set={setDeadlineS} type="number" min={1} />
        <PayloadField id="work" rows={5} form={form} />
        <button type="submit">Submit</button>
      </form>
      {status && <p role="status">{status}</p>}
    </section>
  );
}
