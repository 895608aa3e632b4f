// Decisions: one-click FREEZE / UNFREEZE / mode for the fleet, a form for any
// of the ten types, and the timeline with acks and pending nodes (summarised,
// targets paged: decision-list.tsx). Every issue
// is checked first with ?dry_run=1 (the API's own validation, nothing sent):
// the confirmation names how many nodes it reaches, the form shows the
// hub's error under it. The timeline refreshes on each `decision` event.
import { useEffect, useState } from "preact/hooks";
import { Field } from "../field.tsx";
import { api, type Session } from "../api.ts";
import { plural } from "../format.ts";
import { useApi } from "../hooks.ts";
import { listen } from "../stream.ts";
import { DECISION_EXAMPLES } from "../decision-examples.ts";
import { ExampleSelect, PayloadField, useExamplePayload } from "../example-payload.tsx";
import { DecisionList, type DecisionView } from "./decision-list.tsx";

const MODES = ["LIVE", "SHADOW", "PAUSED", "EMERGENCY", "FREEZE"];
interface DecisionRequest {
  type: string;
  target: string;
  payload: Record<string, unknown>;
  expires_in_s?: number;
}
interface DryRun {
  valid: boolean;
  reaches: number;
  targets: string[];
}

/** Dry run, confirm naming its reach, issue. Returns what to tell the operator. */
async function confirmAndIssue(request: DecisionRequest, label: string): Promise<string> {
  const dry = await api<DryRun>("POST", "/api/federation/decisions?dry_run=1", request);
  if (dry?.valid !== true || typeof dry.reaches !== "number") throw new Error("the hub did not answer the dry run (does it support ?dry_run=1?)");
  if (!confirm(`${label} reaches ${plural(dry.reaches, "node")} (${request.target}). Issue it?`)) return "Not issued.";
  const issued = await api<{ id: string; targets: string[] }>("POST", "/api/federation/decisions", request);
  return `${label} issued as ${issued.id} to ${plural(issued.targets.length, "node")}.`;
}

export function DecisionsPage({ session }: { session: Session }) {
  const [version, setVersion] = useState(0);
  // Summarised: counts and the first pending ids; each decision's targets load when opened.
  const list = useApi<{ decisions: DecisionView[] }>("/api/federation/decisions?limit=20&summary=1", version);
  const [status, setStatus] = useState<string | null>(null);

  useEffect(() => listen("decision", () => setVersion((v) => v + 1)), []);

  const run = async (request: DecisionRequest, label: string) => {
    try {
      setStatus(await confirmAndIssue(request, label));
      setVersion((v) => v + 1);
    } catch (e) {
      setStatus(`${label} refused: ${(e as Error).message}`);
    }
  };

  return (
    <>
      <h1>Decisions</h1>
      {status && (
        <p role="status" class="status">
          {status}
        </p>
      )}
      {session.role === "admin" && (
        <>
          <QuickActions run={run} />
          <IssueForm run={run} />
        </>
      )}
      <section aria-labelledby="timeline">
        <h2 id="timeline">Timeline</h2>
        {list.error && <p class="error">{list.error}</p>}
        <DecisionList decisions={list.data?.decisions ?? []} />
      </section>
    </>
  );
}

function QuickActions({ run }: { run(request: DecisionRequest, label: string): Promise<void> }) {
  const [mode, setMode] = useState("SHADOW");
  return (
    <section class="card" aria-labelledby="quick">
      <h2 id="quick">Whole fleet</h2>
      <div class="actions">
        <button type="button" class="danger" onClick={() => run({ type: "FREEZE", target: "fleet", payload: { reason: "frozen from the dashboard" } }, "FREEZE")}>
          FREEZE fleet
        </button>
        <button type="button" onClick={() => run({ type: "MODE_CHANGE", target: "fleet", payload: { mode: "LIVE", reason: "unfrozen from the dashboard" } }, "UNFREEZE")}>
          UNFREEZE (LIVE)
        </button>
        <label>
          Mode{" "}
          <select value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
            {MODES.filter((m) => m !== "FREEZE").map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => run({ type: "MODE_CHANGE", target: "fleet", payload: { mode } }, `MODE_CHANGE ${mode}`)}>
          Set mode
        </button>
      </div>
    </section>
  );
}

function IssueForm({ run }: { run(request: DecisionRequest, label: string): Promise<void> }) {
  const form = useExamplePayload(DECISION_EXAMPLES, "MODE_CHANGE");
  const [target, setTarget] = useState("fleet");
  const [expires, setExpires] = useState("");
  const type = form.name;

  const submit = async (event: Event) => {
    event.preventDefault();
    const parsed = form.parse();
    if (!parsed) return;
    const request: DecisionRequest = { type, target: target.trim() || "fleet", payload: parsed };
    if (expires) request.expires_in_s = Number(expires);
    try {
      // Validated by the hub without sending, so a mistake shows here, beside the form.
      await api<DryRun>("POST", "/api/federation/decisions?dry_run=1", request);
      form.setProblem(null);
    } catch (e) {
      form.setProblem((e as Error).message);
      return;
    }
    await run(request, type);
  };

  return (
    <section class="card" aria-labelledby="issue">
      <h2 id="issue">Issue a decision</h2>
      <form class="issue" onSubmit={submit}>
        <ExampleSelect label="Type" form={form} />
        <Field label="Target (a node id or fleet)" value={target} set={setTarget} required />
        <Field label="Expires in (s, optional)" value={expires} set={setExpires} type="number" min={1} />
        <PayloadField id="payload" rows={6} form={form} />
        <button type="submit">Check and issue</button>
      </form>
    </section>
  );
}
