// Fleet: counts by health, then the node table with search, health and
// capability filters, sort and paging (all done by the hub, so it stays fast
// at 10,000 nodes). A node event on the stream updates its row in place and
// refreshes the page's counts soon after; heartbeat ages tick each second
// (and the page is fetched again every 15 s for the latest heartbeat times).
import { useEffect, useRef, useState } from "preact/hooks";
import { query } from "../api.ts";
import { Filters, ChoiceFilter } from "../filters.tsx";
import { age } from "../format.ts";
import { ScrollBox } from "../scroll-box.tsx";
import { useApi, useNow } from "../hooks.ts";
import { listen, type FleetRow } from "../stream.ts";

const HEALTH = ["healthy", "degraded", "unhealthy", "offline"];
const PAGE_SIZE = 50;
/** Node events come on health changes only; the page's heartbeat times are refreshed this often. */
const REFRESH_MS = 15_000;
const COLUMNS: { key: string; label: string; sort?: string }[] = [
  { key: "node_id", label: "Node", sort: "node_id" },
  { key: "health", label: "Health", sort: "health" },
  { key: "mode", label: "Mode" },
  { key: "last_heartbeat_at", label: "Last heartbeat", sort: "last_seen" },
  { key: "version", label: "Version", sort: "version" },
  { key: "arch", label: "Arch" },
  { key: "capabilities", label: "Capabilities" },
  { key: "outbox_depth", label: "Outbox", sort: "outbox_depth" },
  { key: "verdicts", label: "PASS / HOLD (1 h)" },
];

interface FleetPageData {
  nodes: FleetRow[];
  total: number;
  counts?: Record<string, number>;
}

export function FleetPage() {
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  const [status, setStatus] = useState("");
  const [capability, setCapability] = useState("");
  const [sort, setSort] = useState("node_id");
  const [order, setOrder] = useState<"asc" | "desc">("asc");
  const [offset, setOffset] = useState(0);
  const [refresh, setRefresh] = useState(0);
  const now = useNow();

  // Typing waits for a pause before it asks the hub.
  useEffect(() => {
    const timer = setTimeout(() => {
      setQ(search.trim());
      setOffset(0);
    }, 250);
    return () => clearTimeout(timer);
  }, [search]);

  const path = `/federation/nodes${query({ q, status, capability, sort, order, limit: PAGE_SIZE, offset })}`;
  const { data, error } = useApi<FleetPageData>(path, refresh);
  const [rows, setRows] = useState<FleetRow[]>([]);
  useEffect(() => setRows(data?.nodes ?? []), [data]);

  // Live: patch the row now, refetch the page (counts, membership) at most once a second.
  const refetchTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    const stop = listen("node", (row) => {
      setRows((current) => (row.removed ? current.filter((r) => r.node_id !== row.node_id) : current.map((r) => (r.node_id === row.node_id ? { ...r, ...row } : r))));
      refetchTimer.current ??= setTimeout(() => {
        refetchTimer.current = null;
        setRefresh((n) => n + 1);
      }, 1000);
    });
    const refresh = setInterval(() => setRefresh((n) => n + 1), REFRESH_MS);
    return () => {
      stop();
      clearInterval(refresh);
      if (refetchTimer.current) clearTimeout(refetchTimer.current);
    };
  }, []);

  // A new filter starts again at the first page.
  const filterBy = (set: (value: string) => void, value: string) => {
    set(value);
    setOffset(0);
  };
  const sortBy = (key: string) => {
    if (sort === key) setOrder(order === "asc" ? "desc" : "asc");
    else {
      setSort(key);
      setOrder("asc");
    }
    setOffset(0);
  };
  const total = data?.total ?? 0;
  const counts = data?.counts ?? {};

  return (
    <>
      <h1>Fleet</h1>
      <ul class="counts" aria-label="Nodes by health">
        {HEALTH.map((h) => (
          <li key={h} class={`count health-${h}`}>
            <span class="n" data-testid={`count-${h}`}>
              {counts[h] ?? 0}
            </span>{" "}
            {h}
          </li>
        ))}
      </ul>
      <Filters>
        <label>
          Search node id
          <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
        <ChoiceFilter label="Health" choices={HEALTH} value={status} choose={(value) => filterBy(setStatus, value)} />
        <label>
          Capability
          <input value={capability} onChange={(e) => filterBy(setCapability, e.currentTarget.value.trim())} placeholder="e.g. kernel" />
        </label>
      </Filters>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <ScrollBox label="Nodes">
        <table class="fleet">
          <caption class="visually-hidden">Nodes, sorted by {sort} {order === "asc" ? "ascending" : "descending"}</caption>
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th key={c.key} scope="col" aria-sort={c.sort && sort === c.sort ? (order === "asc" ? "ascending" : "descending") : undefined}>
                  {c.sort ? (
                    <button type="button" class="sort" onClick={() => sortBy(c.sort!)}>
                      {c.label}
                      {sort === c.sort ? (order === "asc" ? " ▲" : " ▼") : ""}
                    </button>
                  ) : (
                    c.label
                  )}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.node_id} data-node={row.node_id} data-health={row.health}>
                <td>
                  <a href={`#/nodes/${encodeURIComponent(row.node_id)}`}>{row.node_id}</a>
                </td>
                <td>
                  <span class={`badge health-${row.health}`}>{row.health}</span>
                  {row.health_cause && <span class="cause"> {row.health_cause}</span>}
                </td>
                <td>{row.mode ?? "—"}</td>
                <td>{age(row.last_heartbeat_at ?? row.last_seen, now)}</td>
                <td>{row.version}</td>
                <td>{row.arch}</td>
                <td>{row.capabilities.join(", ")}</td>
                <td class="num">{row.outbox_depth ?? "—"}</td>
                <td class="num">
                  {row.verdicts_last_hour?.PASS ?? 0} / {row.verdicts_last_hour?.HOLD ?? 0}
                </td>
              </tr>
            ))}
            {data && rows.length === 0 && (
              <tr>
                <td colSpan={COLUMNS.length}>No node matches.</td>
              </tr>
            )}
          </tbody>
        </table>
      </ScrollBox>
      <nav class="pager" aria-label="Pages of nodes">
        <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
          Previous
        </button>
        <span aria-live="polite">
          {total === 0 ? "0" : `${offset + 1}–${Math.min(offset + PAGE_SIZE, total)}`} of {total}
        </span>
        <button type="button" disabled={offset + PAGE_SIZE >= total} onClick={() => setOffset(offset + PAGE_SIZE)}>
          Next
        </button>
      </nav>
    </>
  );
}
