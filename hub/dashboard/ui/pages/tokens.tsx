// Tokens (admin): create an enrollment token with its uses and expiry (shown
// once, to copy), list them with uses left, revoke.
import { useState } from "preact/hooks";
import { Field } from "../field.tsx";
import { api, type Session } from "../api.ts";
import { confirmThen } from "../confirm-then.ts";
import { time } from "../format.ts";
import { DataTable } from "../data-table.tsx";
import { useApi } from "../hooks.ts";

interface TokenRow {
  id: string;
  label: string;
  uses_left: number;
  expires_at: number | null;
  created_at: number;
  registrations: number;
  revoked: boolean;
}

export function TokensPage({ session }: { session: Session }) {
  const [version, setVersion] = useState(0);
  const list = useApi<{ tokens: TokenRow[] }>(session.role === "admin" ? "/api/federation/tokens" : null, version);
  const [label, setLabel] = useState("");
  const [uses, setUses] = useState("1");
  const [expiresH, setExpiresH] = useState("24");
  const [created, setCreated] = useState<{ token: string; id: string } | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  if (session.role !== "admin") return <p>Tokens are for admins.</p>;

  const create = async (event: Event) => {
    event.preventDefault();
    try {
      const body: Record<string, unknown> = { label: label.trim() || "dashboard", uses: Number(uses) };
      if (expiresH) body.expires_in_s = Math.round(Number(expiresH) * 3600);
      const answer = await api<{ token: string; id: string }>("POST", "/api/federation/tokens", body);
      setCreated(answer);
      setMessage(null);
      setVersion((v) => v + 1);
    } catch (e) {
      setMessage(`Not created: ${(e as Error).message}`);
    }
  };
  const revoke = (id: string) =>
    confirmThen(
      `Revoke token ${id}? Nodes can no longer register with it.`,
      () => api("DELETE", `/api/federation/tokens/${encodeURIComponent(id)}`),
      (failure) => (failure ? setMessage(`Not revoked: ${failure}`) : setVersion((v) => v + 1)),
    );

  return (
    <>
      <h1>Enrollment tokens</h1>
      <section class="card" aria-labelledby="create">
        <h2 id="create">Create</h2>
        <form class="issue" onSubmit={create}>
          <Field label="Label" value={label} set={setLabel} placeholder="rack 3" />
          <Field label="Uses" value={uses} set={setUses} type="number" min={1} required />
          <Field label="Expires in (hours, empty: never)" value={expiresH} set={setExpiresH} type="number" min={0.01} step="any" />
          <button type="submit">Create token</button>
        </form>
        {created && (
          <div role="status" class="once">
            <p>Copy this token now: it is not shown again.</p>
            <input aria-label="The new token" readOnly value={created.token} onFocus={(e) => e.currentTarget.select()} />
            <button type="button" onClick={() => void navigator.clipboard?.writeText(created.token).then(() => setMessage("Copied."))}>
              Copy
            </button>
            <button type="button" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        )}
        {message && <p role="status">{message}</p>}
      </section>
      <section aria-labelledby="list">
        <h2 id="list">Tokens</h2>
        {list.error && <p class="error">{list.error}</p>}
        <DataTable label="Tokens" columns={["Id", "Label", "Uses left", "Registrations", "Created", "Expires", "State"]}>
          {(list.data?.tokens ?? []).map((t) => (
            <tr key={t.id}>
              <td>
                <code>{t.id}</code>
              </td>
              <td>{t.label}</td>
              <td class="num">{t.uses_left}</td>
              <td class="num">{t.registrations}</td>
              <td>{time(t.created_at)}</td>
              <td>{t.expires_at ? time(t.expires_at) : "never"}</td>
              <td>
                {t.revoked ? (
                  "revoked"
                ) : (
                  <button type="button" class="danger" onClick={() => revoke(t.id)}>
                    Revoke <span class="visually-hidden">{t.id}</span>
                  </button>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      </section>
    </>
  );
}
