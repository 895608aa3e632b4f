import { describe, expect, test } from "bun:test";
import { parseCsv, parseFleet } from "./fleet-csv.ts";

const FILE = "fleet.csv";

/** parseFleet's nodes and problems for `text`. */
function fleet(text: string): { nodes: ReturnType<typeof parseFleet>; problems: string[] } {
  const problems: string[] = [];
  const nodes = parseFleet(text, FILE, problems);
  return { nodes, problems };
}

/** The fields of each record, without line numbers. */
const records = (text: string) => parseCsv(text).map((row) => row.fields);

describe("parseCsv", () => {
  test("plain rows and fields", () => {
    expect(records("a,b,c\n1,2,3\n")).toEqual([
      ["a", "b", "c"],
      ["1", "2", "3"],
    ]);
  });

  test("a quoted field may hold commas, doubled quotes and newlines", () => {
    expect(records('id,psk\npi-01,"a,b ""quoted""\nnext line"\n')).toEqual([
      ["id", "psk"],
      ["pi-01", 'a,b "quoted"\nnext line'],
    ]);
  });

  test("a quoted field keeps a CRLF inside it as it is", () => {
    expect(records('a,"x\r\ny"\r\n')).toEqual([["a", "x\r\ny"]]);
  });

  test("CRLF line ends split rows and leave no \\r in fields", () => {
    expect(records("a,b\r\n1,2\r\n3,4")).toEqual([
      ["a", "b"],
      ["1", "2"],
      ["3", "4"],
    ]);
  });

  test("with and without a trailing newline the rows are the same", () => {
    expect(records("a,b\n1,2")).toEqual(records("a,b\n1,2\n"));
    expect(records("a,b\r\n1,2")).toEqual(records("a,b\r\n1,2\r\n"));
  });

  test("empty fields, including a trailing one, are kept", () => {
    expect(records("a,,c,\n,,,\n")).toEqual([
      ["a", "", "c", ""],
      ["", "", "", ""],
    ]);
  });

  test("a quoted empty field and a quoted field at the end of the file without newline", () => {
    expect(records('a,"",b\nx,y,"z,1"')).toEqual([
      ["a", "", "b"],
      ["x", "y", "z,1"],
    ]);
  });

  test("blank lines are skipped", () => {
    expect(records("a,b\n\n1,2\n\n\n")).toEqual([
      ["a", "b"],
      ["1", "2"],
    ]);
  });

  test("each record carries the file line it starts on, past blank lines and quoted newlines", () => {
    expect(parseCsv('h\n\na\n"b\nc"\r\nd\n').map((row) => row.line)).toEqual([1, 3, 4, 6]);
  });

  test("an unterminated quote throws", () => {
    expect(() => parseCsv('a,b\n1,"2\n3,4\n')).toThrow("not closed");
    expect(() => parseCsv('"')).toThrow("not closed");
  });
});

describe("parseFleet", () => {
  test("a full row becomes a node with its Wi-Fi", () => {
    const { nodes, problems } = fleet("node_id,hostname,wifi_ssid,wifi_psk,wifi_country\npi-01,kitchen-pi,Home Net,correct horse,DE\npi-02,,,,\n");
    expect(problems).toEqual([]);
    expect(nodes).toEqual([
      { nodeId: "pi-01", hostname: "kitchen-pi", wifi: { ssid: "Home Net", passphrase: "correct horse", country: "DE" } },
      { nodeId: "pi-02", hostname: "pi-02", wifi: null },
    ]);
  });

  test("header columns may come in any order and any case, with spaces around them", () => {
    const { nodes, problems } = fleet(" WIFI_COUNTRY , Wifi_Psk,Hostname,NODE_ID,wifi_ssid\nGB,password123,host-a,pi-07,Office\n");
    expect(problems).toEqual([]);
    expect(nodes).toEqual([{ nodeId: "pi-07", hostname: "host-a", wifi: { ssid: "Office", passphrase: "password123", country: "GB" } }]);
  });

  test("only a node_id column is enough", () => {
    const { nodes, problems } = fleet("node_id\npi-01\npi-02\n");
    expect(problems).toEqual([]);
    expect(nodes.map((n) => n.nodeId)).toEqual(["pi-01", "pi-02"]);
  });

  test("a BOM at the start of the file is ignored", () => {
    const { nodes, problems } = fleet("\uFEFFnode_id,hostname\r\npi-01,host-1\r\n");
    expect(problems).toEqual([]);
    expect(nodes).toEqual([{ nodeId: "pi-01", hostname: "host-1", wifi: null }]);
  });

  test("a passphrase with commas, quotes and a doubled quote survives the CSV quoting", () => {
    const { nodes, problems } = fleet('node_id,wifi_ssid,wifi_psk,wifi_country\npi-01,"My, ""Net""","pa,ss ""wo"" rd",DE\n');
    expect(problems).toEqual([]);
    expect(nodes[0]!.wifi).toEqual({ ssid: 'My, "Net"', passphrase: 'pa,ss "wo" rd', country: "DE" });
  });

  test("the PSK is not trimmed (spaces belong to a passphrase), the other fields are", () => {
    const { nodes, problems } = fleet("node_id,hostname,wifi_ssid,wifi_psk,wifi_country\n  pi-01 ,  host-1  ,  Home Net  ,  secret pass  , DE \n");
    expect(problems).toEqual([]);
    expect(nodes).toEqual([{ nodeId: "pi-01", hostname: "host-1", wifi: { ssid: "Home Net", passphrase: "  secret pass  ", country: "DE" } }]);
  });

  test("an unterminated quote is a problem naming the file, and no nodes", () => {
    const { nodes, problems } = fleet('node_id,wifi_psk\npi-01,"open\n');
    expect(nodes).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(FILE);
    expect(problems[0]).toContain("not closed");
  });

  test("an unknown column is a problem naming it", () => {
    const { nodes, problems } = fleet("node_id,hostname,ip_address\npi-01,host,10.0.0.1\n");
    expect(nodes).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("ip_address");
    expect(problems[0]).toContain("unknown column");
  });

  test("a column named twice is a problem, not a second value silently dropped", () => {
    // Row 2's second hostname ("b") would otherwise be ignored without a word.
    const { nodes, problems } = fleet("node_id,hostname,Hostname\npi-01,a,b\n");
    expect(nodes).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("hostname");
  });

  test("no node_id column is a problem", () => {
    const { nodes, problems } = fleet("hostname,wifi_ssid\nhost-1,net\n");
    expect(nodes).toEqual([]);
    expect(problems.some((p) => p.includes("node_id column"))).toBe(true);
  });

  test("a header and no rows is a problem", () => {
    expect(fleet("node_id,hostname\n").problems.some((p) => p.includes("no rows"))).toBe(true);
    expect(fleet("").problems.length).toBeGreaterThan(0);
  });

  test("a row with the wrong number of fields names its row number (the header is line 1)", () => {
    const { problems } = fleet("node_id,hostname\npi-01,host-1\npi-02\npi-03,host-3,extra\n");
    expect(problems).toEqual([`${FILE} line 3: 1 fields, the header has 2`, `${FILE} line 4: 3 fields, the header has 2`]);
  });

  test("a duplicate node_id names both rows", () => {
    const { problems } = fleet("node_id,hostname\npi-01,host-1\npi-02,host-2\npi-01,host-3\n");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("line 4");
    expect(problems[0]).toContain("pi-01");
    expect(problems[0]).toContain("line 2");
    expect(problems[0]).toContain("node_id");
  });

  test("a duplicate hostname names both rows, also when one comes from the node id", () => {
    const explicit = fleet("node_id,hostname\npi-01,kitchen\npi-02,kitchen\n").problems;
    expect(explicit).toEqual([`${FILE} line 3: hostname kitchen is already on line 2`]);
    // Row 3 has no hostname, so its hostname is its node id: the one line 2 asked for.
    const derived = fleet("node_id,hostname\npi-01,pi-02\npi-02,\n").problems;
    expect(derived).toEqual([`${FILE} line 3: hostname pi-02 is already on line 2`]);
  });

  test("hostnames that differ only in case are duplicates (host names are case-insensitive)", () => {
    const { problems } = fleet("node_id,hostname\npi-01,Kitchen\npi-02,kitchen\n");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("line 3");
    expect(problems[0]).toContain("line 2");
  });

  test("a bad node id names its row and column", () => {
    const { problems } = fleet("node_id,hostname\npi-01,host-1\nPi_02,host-2\n");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith(`${FILE} line 3 node_id "Pi_02" is not a node id`);
  });

  test("a bad hostname and a bad country name their row and column", () => {
    const { problems } = fleet("node_id,hostname,wifi_ssid,wifi_psk,wifi_country\npi-01,-bad-,net,password1,de\n");
    expect(problems).toHaveLength(2);
    expect(problems[0]).toStartWith(`${FILE} line 2 hostname "-bad-"`);
    expect(problems[1]).toStartWith(`${FILE} line 2 wifi_country "de"`);
  });

  test("Wi-Fi with only an SSID is a problem naming the three columns", () => {
    const { problems } = fleet("node_id,wifi_ssid,wifi_psk,wifi_country\npi-01,Home,,\n");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("Wi-Fi needs all three");
    for (const column of ["wifi_ssid", "wifi_psk", "wifi_country"]) expect(problems[0]).toContain(`${FILE} line 2 ${column}`);
  });

  test("a PSK problem never shows the value", () => {
    const { problems } = fleet("node_id,wifi_ssid,wifi_psk,wifi_country\npi-01,Home,short,DE\n");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("line 2 wifi_psk");
    expect(problems[0]).not.toContain("short");
  });

  test("every bad row is reported, not just the first", () => {
    const { problems } = fleet("node_id,hostname\nBAD,host-1\npi-02\nalso bad,host-3\n");
    expect(problems).toHaveLength(3);
    expect(problems.map((p) => p.match(/line (\d+)/)![1])).toEqual(["2", "3", "4"]);
  });

  test("1000 rows are accepted, 1001 are a problem", () => {
    const rows = (n: number) => ["node_id", ...Array.from({ length: n }, (_, i) => `pi-${i}`)].join("\n");
    const ok = fleet(rows(1000));
    expect(ok.problems).toEqual([]);
    expect(ok.nodes).toHaveLength(1000);
    const tooMany = fleet(rows(1001));
    expect(tooMany.nodes).toEqual([]);
    expect(tooMany.problems).toEqual([`${FILE}: 1001 rows, at most 1000 per run`]);
  });
});
