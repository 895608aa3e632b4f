// The fleet file for `flash --fleet`: CSV (RFC 4180 quoting, so a Wi-Fi
// passphrase may hold commas and quotes) with a header row naming the columns.
import { checkNode, type NodeProvision } from "./flash-options.ts";

const COLUMNS = ["node_id", "hostname", "wifi_ssid", "wifi_psk", "wifi_country"] as const;
type Column = (typeof COLUMNS)[number];
const MAX_ROWS = 1000;

/** One CSV record and the line of the file it starts on (1-based). */
export interface CsvRow {
  fields: string[];
  line: number;
}

/** Splits CSV text into records, skipping blank lines. Throws on an unterminated quote. */
export function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  const endRow = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0]!.trim() === "")) rows.push({ fields, line: rowLine });
    fields = [];
    field = "";
  };
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    const newline = c === "\n" || c === "\r";
    const step = c === "\r" && text[i + 1] === "\n" ? 2 : 1;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), (i += 2);
      else if (c === '"') (quoted = false), i++;
      else (field += text.slice(i, i + step)), (line += newline ? 1 : 0), (i += step);
    } else if (c === '"' && field === "") (quoted = true), i++;
    else if (c === ",") fields.push(field), (field = ""), i++;
    else if (newline) endRow(), (line += 1), (rowLine = line), (i += step);
    else (field += c), i++;
  }
  if (quoted) throw new Error(`the quoted field starting on line ${rowLine} is not closed`);
  if (field !== "" || fields.length) endRow();
  return rows;
}

/** The nodes of a fleet file, every problem reported at once with its row and column. */
export function parseFleet(text: string, file: string, problems: string[]): NodeProvision[] {
  let rows: CsvRow[];
  try {
    rows = parseCsv(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    problems.push(`${file}: ${(error as Error).message}`);
    return [];
  }
  const header = (rows.shift()?.fields ?? []).map((h) => h.trim().toLowerCase());
  const unknown = header.filter((h) => !(COLUMNS as readonly string[]).includes(h));
  if (unknown.length) problems.push(`${file}: unknown column(s) ${unknown.join(", ")}; the columns are ${COLUMNS.join(", ")}`);
  const twice = header.filter((h, i) => header.indexOf(h) !== i);
  if (twice.length) problems.push(`${file}: column(s) ${[...new Set(twice)].join(", ")} named more than once in the header`);
  if (!header.includes("node_id")) problems.push(`${file}: the header row needs a node_id column (columns: ${COLUMNS.join(", ")})`);
  if (rows.length === 0) problems.push(`${file}: no rows after the header`);
  if (rows.length > MAX_ROWS) problems.push(`${file}: ${rows.length} rows, at most ${MAX_ROWS} per run`);
  if (problems.length) return [];

  const nodes: NodeProvision[] = [];
  const seen = new Map<string, number>();
  for (const { fields, line } of rows) {
    if (fields.length !== header.length) {
      problems.push(`${file} line ${line}: ${fields.length} fields, the header has ${header.length}`);
      continue;
    }
    const get = (column: Column) => {
      const at = header.indexOf(column);
      return at === -1 ? undefined : column === "wifi_psk" ? fields[at] : fields[at]!.trim();
    };
    const column: Record<string, Column> = { "node-id": "node_id", hostname: "hostname", "wifi-ssid": "wifi_ssid", "wifi-psk": "wifi_psk", "wifi-country": "wifi_country" };
    const node = checkNode(
      { nodeId: get("node_id"), hostname: get("hostname"), ssid: get("wifi_ssid"), psk: get("wifi_psk"), country: get("wifi_country") },
      (field) => `${file} line ${line} ${column[field]}`,
      problems,
    );
    // Host names are case-insensitive on the network: Kitchen and kitchen would clash.
    for (const [kind, value] of [["node_id", node.nodeId], ["hostname", node.hostname.toLowerCase()]] as const) {
      const key = `${kind}:${value}`;
      if (value && seen.has(key)) problems.push(`${file} line ${line}: ${kind} ${value} is already on line ${seen.get(key)}`);
      else seen.set(key, line);
    }
    nodes.push(node);
  }
  return nodes;
}
