// Tests for the agent.env contract (agent-env.ts): env file < environment < flags,
// errors that name the setting (and the env file line), the node id from the
// host name, capabilities, masking, help.
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../lib/command-line.ts";
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import {
  agentEnvLine,
  agentHelp,
  DEFAULT_ENV_FILE,
  describeAgentSettings,
  normaliseNodeId,
  parseAgentSettings,
  type AgentSettings,
  type ParseOptions,
} from "./agent-env.ts";

afterAll(removeTempDirs);

const HUB = "http://hub.lan:8080";

/** Files by path; any other path does not exist. */
function files(map: Record<string, string>): ParseOptions["readFile"] {
  return (path) => map[path] ?? null;
}

function parse(args: string[], env: Record<string, string | undefined> = {}, fileMap: Record<string, string> = {}, host = "pi-test"): AgentSettings {
  return parseAgentSettings(args, env, { hostname: () => host, readFile: files(fileMap) });
}

/** The problems parseAgentSettings reports; fails the test if it does not throw UsageError. */
function problems(args: string[], env: Record<string, string | undefined> = {}, options: ParseOptions = {}): string[] {
  try {
    parseAgentSettings(args, env, { hostname: () => "pi-test", readFile: files({}), ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    const { problems: list, message } = error as UsageError;
    expect(message).toBe(list.join("\n"));
    return list;
  }
  throw new Error(`parseAgentSettings(${JSON.stringify(args)}, ${JSON.stringify(env)}) did not throw`);
}

function problem(args: string[], env: Record<string, string | undefined> = {}, options: ParseOptions = {}): string {
  const list = problems(args, env, options);
  expect(list).toHaveLength(1);
  return list[0]!;
}

const DEFAULTS: AgentSettings = {
  hubUrl: HUB,
  hubCa: "",
  enrollToken: "",
  nodeId: "pi-test",
  dataDir: "/var/lib/edgefed",
  kernelConfig: "/etc/edgefed/core_gates.env",
  heartbeatS: 0,
  capabilities: ["kernel"],
  apiSocket: "/run/edgefed/agent.sock",
  apiPort: null,
  apiTokenFile: "/run/edgefed/api-token",
  outboxMax: 100000,
  offlineHoldAfterS: 0,
  journalRetentionDays: 30,
  workSlots: 2,
  reconnectMaxS: 60,
  offline: false,
  envFile: "/etc/edgefed/agent.env",
  envFileStatus: "missing",
};

const VARIABLES: Record<string, string> = {
  EDGEFED_AGENT_ENV: "--env-file",
  EDGEFED_HUB_URL: "--hub-url",
  EDGEFED_HUB_CA: "--hub-ca",
  EDGEFED_ENROLL_TOKEN: "--enroll-token",
  EDGEFED_NODE_ID: "--node-id",
  EDGEFED_DATA_DIR: "--data-dir",
  EDGEFED_KERNEL_CONFIG: "--kernel-config",
  EDGEFED_HEARTBEAT_S: "--heartbeat-s",
  EDGEFED_CAPABILITIES: "--capabilities",
  EDGEFED_API_SOCKET: "--api-socket",
  EDGEFED_API_PORT: "--api-port",
  EDGEFED_API_TOKEN_FILE: "--api-token-file",
  EDGEFED_OUTBOX_MAX: "--outbox-max",
  EDGEFED_OFFLINE_HOLD_AFTER_S: "--offline-hold-after-s",
  EDGEFED_JOURNAL_RETENTION_DAYS: "--journal-retention-days",
  EDGEFED_WORK_SLOTS: "--work-slots",
  EDGEFED_RECONNECT_MAX_S: "--reconnect-max-s",
  EDGEFED_OFFLINE: "--offline",
};

describe("parseAgentSettings: the pinned hub CA", () => {
  test("needs an https hub: the enrollment token must not cross the network in clear", () => {
    expect(problem([], { EDGEFED_HUB_URL: "http://hub.lan:8080", EDGEFED_HUB_CA: "/etc/edgefed/hub-ca.pem" })).toContain("EDGEFED_HUB_CA: a pinned hub CA needs an https://");
    expect(parse([], { EDGEFED_HUB_URL: "https://hub.lan:8080", EDGEFED_HUB_CA: "/etc/edgefed/hub-ca.pem" }).hubCa).toBe("/etc/edgefed/hub-ca.pem");
  });
});

describe("parseAgentSettings: sources", () => {
  test("defaults, with only the hub URL given and no env file", () => {
    expect(parse([], { EDGEFED_HUB_URL: HUB })).toEqual(DEFAULTS);
  });

  test("the env file, then the environment, then flags: each wins over the one before", () => {
    const file = ["EDGEFED_HUB_URL=http://from-file:8080", "EDGEFED_NODE_ID=file-node", "EDGEFED_API_PORT=1111", "EDGEFED_OUTBOX_MAX=500", ""].join("\n");
    const env = { EDGEFED_NODE_ID: "env-node", EDGEFED_API_PORT: "2222" };
    const settings = parse(["--api-port", "3333"], env, { [DEFAULT_ENV_FILE]: file });
    expect(settings).toMatchObject({
      hubUrl: "http://from-file:8080", // file only
      outboxMax: 500, // file only
      nodeId: "env-node", // environment over file
      apiPort: 3333, // flag over environment over file
      envFileStatus: "read",
    });
  });

  test("reads every setting from the env file, typed, with export and quotes as systemd allows", () => {
    const file = [
      "# written by edgefed flash",
      "; another comment",
      "export EDGEFED_HUB_URL=https://hub.example/edgefed",
      'EDGEFED_ENROLL_TOKEN="eft_abc123"',
      "EDGEFED_NODE_ID='pi-01'",
      "EDGEFED_DATA_DIR = /srv/edgefed",
      "EDGEFED_KERNEL_CONFIG=/srv/core_gates.env",
      "EDGEFED_HEARTBEAT_S=2.5",
      "EDGEFED_CAPABILITIES=kernel,gpio,sim:fast",
      "EDGEFED_API_SOCKET=/run/strategy/agent.sock",
      "EDGEFED_API_PORT=9000",
      "EDGEFED_API_TOKEN_FILE=/run/strategy/token",
      "EDGEFED_OUTBOX_MAX=100",
      "EDGEFED_OFFLINE_HOLD_AFTER_S=600",
      "EDGEFED_JOURNAL_RETENTION_DAYS=7",
      "EDGEFED_WORK_SLOTS=4",
      "EDGEFED_RECONNECT_MAX_S=30",
      "EDGEFED_OFFLINE=yes",
      "EDGEFED_HUB_CA=/etc/edgefed/hub-ca.pem",
      "MIN_NOTIONAL_USD=25", // not ours: left for systemd to pass on
    ].join("\n");
    expect(parse([], {}, { [DEFAULT_ENV_FILE]: file }, "ignored")).toEqual({
      hubUrl: "https://hub.example/edgefed",
      hubCa: "/etc/edgefed/hub-ca.pem",
      enrollToken: "eft_abc123",
      nodeId: "pi-01",
      dataDir: "/srv/edgefed",
      kernelConfig: "/srv/core_gates.env",
      heartbeatS: 2.5,
      capabilities: ["kernel", "gpio", "sim:fast"],
      apiSocket: "/run/strategy/agent.sock",
      apiPort: 9000,
      apiTokenFile: "/run/strategy/token",
      outboxMax: 100,
      offlineHoldAfterS: 600,
      journalRetentionDays: 7,
      workSlots: 4,
      reconnectMaxS: 30,
      offline: true,
      envFile: DEFAULT_ENV_FILE,
      envFileStatus: "read",
    });
  });

  test("--env-file wins over EDGEFED_AGENT_ENV, which wins over the default", () => {
    const fileMap = {
      [DEFAULT_ENV_FILE]: "EDGEFED_NODE_ID=default-file\nEDGEFED_HUB_URL=http://h",
      "/env/agent.env": "EDGEFED_NODE_ID=env-file\nEDGEFED_HUB_URL=http://h",
      "/flag/agent.env": "EDGEFED_NODE_ID=flag-file\nEDGEFED_HUB_URL=http://h",
    };
    expect(parse([], {}, fileMap).nodeId).toBe("default-file");
    expect(parse([], { EDGEFED_AGENT_ENV: "/env/agent.env" }, fileMap)).toMatchObject({ nodeId: "env-file", envFile: "/env/agent.env" });
    expect(parse(["--env-file=/flag/agent.env"], { EDGEFED_AGENT_ENV: "/env/agent.env" }, fileMap)).toMatchObject({
      nodeId: "flag-file",
      envFile: "/flag/agent.env",
    });
  });

  test("a missing default env file is fine; a missing explicit one is an error naming it", () => {
    expect(parse([], { EDGEFED_HUB_URL: HUB }).envFileStatus).toBe("missing");
    expect(problem(["--env-file", "/nope/agent.env"], { EDGEFED_HUB_URL: HUB })).toBe("--env-file: /nope/agent.env: no such file");
    expect(problem([], { EDGEFED_HUB_URL: HUB, EDGEFED_AGENT_ENV: "/nope/a.env" })).toBe("EDGEFED_AGENT_ENV: /nope/a.env: no such file");
    expect(problem(["--env-file="], { EDGEFED_HUB_URL: HUB })).toBe("--env-file: must not be empty");
  });

  test("an unreadable default env file is passed over (systemd hands its values over as the environment); an explicit one is an error", () => {
    const readFile = () => {
      throw new Error("EACCES: permission denied");
    };
    expect(parseAgentSettings([], { EDGEFED_HUB_URL: HUB }, { hostname: () => "pi", readFile }).envFileStatus).toBe("unreadable");
    // Without a hub URL, the message says why the file did not help.
    expect(problem([], {}, { readFile })).toBe(
      "EDGEFED_HUB_URL: required: the hub's http(s) URL (or --hub-url; --offline runs in simulation only); /etc/edgefed/agent.env could not be read: EACCES: permission denied",
    );
    expect(problem(["--env-file", "/etc/x.env"], { EDGEFED_HUB_URL: HUB }, { readFile })).toBe("--env-file: /etc/x.env: cannot read: EACCES: permission denied");
  });

  test("reads a real env file by default (no readFile given)", () => {
    const dir = tempDir();
    const path = join(dir, "agent.env");
    writeFileSync(path, "EDGEFED_HUB_URL=http://real-file:8080\nEDGEFED_NODE_ID=real-node\n");
    expect(parseAgentSettings(["--env-file", path], {}, { hostname: () => "x" })).toMatchObject({
      hubUrl: "http://real-file:8080",
      nodeId: "real-node",
      envFile: path,
      envFileStatus: "read",
    });
    expect(problem(["--env-file", join(dir, "absent.env")], { EDGEFED_HUB_URL: HUB }, { readFile: undefined })).toBe(
      `--env-file: ${join(dir, "absent.env")}: no such file`,
    );
    expect(problem(["--env-file", dir], { EDGEFED_HUB_URL: HUB }, { readFile: undefined })).toStartWith(`--env-file: ${dir}: cannot read: `);
  });

  test("ignores unrelated variables in the environment, also other EDGEFED_ ones (the hub shares the prefix)", () => {
    expect(parse([], { EDGEFED_HUB_URL: HUB, PATH: "/usr/bin", EDGEFED_HTTP_PORT: "x", MIN_NOTIONAL_USD: "25" })).toEqual(DEFAULTS);
  });
});

describe("parseAgentSettings: env file errors name the file and line", () => {
  const path = "/etc/edgefed/agent.env";
  const withFile = (text: string, env: Record<string, string> = { EDGEFED_HUB_URL: HUB }) =>
    problems([], env, { readFile: files({ [path]: text }) });

  test("a line that is not KEY=VALUE", () => {
    expect(withFile("EDGEFED_NODE_ID=pi-1\nthis is not an assignment\n")).toEqual([
      `${path}:2: expected KEY=VALUE, got "this is not an assignment"`,
    ]);
  });

  test("a bad value names file, line and variable, even if the environment overrides it", () => {
    expect(withFile("# c\n\nEDGEFED_API_PORT=http\n", { EDGEFED_HUB_URL: HUB, EDGEFED_API_PORT: "9000" })).toEqual([
      `${path}:3: EDGEFED_API_PORT: "http" is not a port (0-65535)`,
    ]);
  });

  test("no inline comments: the comment stays in the value and fails", () => {
    expect(withFile("EDGEFED_OUTBOX_MAX=5000 # bigger\n")).toEqual([`${path}:1: EDGEFED_OUTBOX_MAX: "5000 # bigger" is not a whole number of at least 100`]);
  });

  test("a variable set twice", () => {
    expect(withFile("EDGEFED_NODE_ID=a\nEDGEFED_DATA_DIR=/d\nEDGEFED_NODE_ID=b\n")).toEqual([
      `${path}:3: EDGEFED_NODE_ID: set again (first on line 1); keep one`,
    ]);
  });

  test("a misspelt EDGEFED_ variable, with a guess", () => {
    expect(withFile("EDGEFED_HUB_ULR=http://h\n")).toEqual([`${path}:1: EDGEFED_HUB_ULR: not an agent setting (did you mean EDGEFED_HUB_URL?)`]);
    expect(withFile("EDGEFED_SOMETHING_ELSE_ENTIRELY=1\n")).toEqual([`${path}:1: EDGEFED_SOMETHING_ELSE_ENTIRELY: not an agent setting (see --help)`]);
  });

  test("EDGEFED_AGENT_ENV inside the env file", () => {
    expect(withFile("EDGEFED_AGENT_ENV=/other.env\n")).toEqual([
      `${path}:1: EDGEFED_AGENT_ENV: only read from the environment or --env-file, not from the env file itself`,
    ]);
  });

  test("every problem is reported at once", () => {
    expect(withFile("EDGEFED_API_PORT=x\nEDGEFED_OUTBOX_MAX=1\n", { EDGEFED_HEARTBEAT_S: "soon" })).toEqual([
      'EDGEFED_HEARTBEAT_S: "soon" is not a number 0 or more',
      `${path}:1: EDGEFED_API_PORT: "x" is not a port (0-65535)`,
      `${path}:2: EDGEFED_OUTBOX_MAX: "1" is not a whole number of at least 100`,
      "EDGEFED_HUB_URL: required: the hub's http(s) URL (or --hub-url; --offline runs in simulation only)",
    ]);
  });
});

describe("parseAgentSettings: every bad value names the variable or the flag", () => {
  const BAD: [variable: string, raw: string, why: string][] = [
    ["EDGEFED_HUB_URL", "ftp://hub", '"ftp://hub" is not an http(s) URL'],
    ["EDGEFED_HUB_URL", "hub.lan:8080", '"hub.lan:8080" is not an http(s) URL'],
    ["EDGEFED_HUB_URL", "http://", '"http://" is not an http(s) URL'],
    ["EDGEFED_HUB_URL", "http://hub/?x=1", '"http://hub/?x=1": a hub URL has no ?query or #fragment'],
    ["EDGEFED_NODE_ID", "Pi_01", '"Pi_01" is not a node id: lowercase letters, digits and -, starting with a letter or digit, at most 63 characters (did you mean "pi-01"?)'],
    ["EDGEFED_DATA_DIR", "", "must not be empty"],
    ["EDGEFED_KERNEL_CONFIG", "", "must not be empty"],
    ["EDGEFED_HEARTBEAT_S", "-1", '"-1" is not a number 0 or more'],
    ["EDGEFED_HEARTBEAT_S", "1e3", '"1e3" is not a number 0 or more'],
    ["EDGEFED_CAPABILITIES", "kernel,GPU", '"GPU" is not a capability: lowercase letters, digits and : . _ -, starting with a letter or digit, at most 64 characters'],
    ["EDGEFED_API_PORT", "65536", '"65536" is not a port (0-65535)'],
    ["EDGEFED_API_PORT", "80.5", '"80.5" is not a port (0-65535)'],
    ["EDGEFED_OUTBOX_MAX", "99", '"99" is not a whole number of at least 100'],
    ["EDGEFED_OUTBOX_MAX", "1000.5", '"1000.5" is not a whole number of at least 100'],
    ["EDGEFED_OUTBOX_MAX", "99999999999999999999", '"99999999999999999999" is not a whole number of at least 100'],
    ["EDGEFED_OFFLINE_HOLD_AFTER_S", "never", '"never" is not a number 0 or more'],
    ["EDGEFED_JOURNAL_RETENTION_DAYS", "0", '"0" is not a whole number of at least 1'],
    ["EDGEFED_JOURNAL_RETENTION_DAYS", "1.5", '"1.5" is not a whole number of at least 1'],
    ["EDGEFED_RECONNECT_MAX_S", "0", '"0" is not a number above 0'],
    ["EDGEFED_RECONNECT_MAX_S", "", '"" is not a number above 0'],
    ["EDGEFED_OFFLINE", "maybe", '"maybe" is not a yes/no value (1/0, true/false, yes/no, on/off)'],
  ];

  for (const [variable, raw, why] of BAD) {
    const flag = VARIABLES[variable]!;
    test(`${variable}=${JSON.stringify(raw)}`, () => {
      const base = variable === "EDGEFED_HUB_URL" ? { EDGEFED_OFFLINE: "1" } : { EDGEFED_HUB_URL: HUB };
      expect(problem([], { ...base, [variable]: raw })).toBe(`${variable}: ${why}`);
      // --offline is a switch: the flag takes no value, only its variable does.
      expect(problem([`${flag}=${raw}`], base)).toBe(flag === "--offline" ? "--offline: takes no value" : `${flag}: ${why}`);
    });
  }

  test("the hub URL is required unless offline", () => {
    expect(problem([])).toBe("EDGEFED_HUB_URL: required: the hub's http(s) URL (or --hub-url; --offline runs in simulation only)");
    expect(problem([], { EDGEFED_HUB_URL: "" })).toStartWith("EDGEFED_HUB_URL: required");
    // An empty value in the environment overrides the file's URL: still required.
    expect(problem([], { EDGEFED_HUB_URL: "" }, { readFile: files({ [DEFAULT_ENV_FILE]: "EDGEFED_HUB_URL=http://h" }) })).toStartWith("EDGEFED_HUB_URL: required");
    expect(parse(["--offline"])).toMatchObject({ offline: true, hubUrl: "" });
    expect(parse([], { EDGEFED_OFFLINE: "true" })).toMatchObject({ offline: true, hubUrl: "" });
    expect(problem(["--offline=no"])).toBe("--offline: takes no value");
    // Offline with a URL keeps it (and still checks it).
    expect(parse(["--offline", "--hub-url", "https://hub:8443"]).hubUrl).toBe("https://hub:8443");
  });

  test("a hub URL with credentials is refused without echoing them", () => {
    const message = problem(["--hub-url", "http://admin:hunter2@hub:8080"]);
    expect(message).toBe("--hub-url: must not carry a user name or password");
    expect(message).not.toContain("hunter2");
  });

  test("an enrollment token with spaces is refused without echoing it", () => {
    const message = problem([], { EDGEFED_HUB_URL: HUB, EDGEFED_ENROLL_TOKEN: "eft_secret part2" });
    expect(message).toStartWith("EDGEFED_ENROLL_TOKEN: contains spaces or control characters");
    expect(message).not.toContain("secret");
  });

  test("numbers at their limits", () => {
    expect(parse(["--outbox-max", "100", "--journal-retention-days", "1", "--heartbeat-s", "0", "--offline-hold-after-s", "0.5", "--api-port", "0"], { EDGEFED_HUB_URL: HUB })).toMatchObject({
      outboxMax: 100,
      journalRetentionDays: 1,
      heartbeatS: 0,
      offlineHoldAfterS: 0.5,
      apiPort: 0,
    });
    expect(parse(["--api-port", "65535", "--reconnect-max-s", "0.25"], { EDGEFED_HUB_URL: HUB })).toMatchObject({ apiPort: 65535, reconnectMaxS: 0.25 });
  });

  test("the local API: TCP off unless a port is given, the socket off when empty, a socket path that fits sun_path", () => {
    expect(parse(["--api-socket=", "--api-port="], { EDGEFED_HUB_URL: HUB })).toMatchObject({ apiSocket: null, apiPort: null });
    expect(parse([], { EDGEFED_HUB_URL: HUB, EDGEFED_API_SOCKET: "/tmp/a.sock", EDGEFED_API_PORT: "8787" })).toMatchObject({ apiSocket: "/tmp/a.sock", apiPort: 8787 });
    const long = `/run/${"x".repeat(103)}`;
    expect(problem([`--api-socket=${long}`], { EDGEFED_HUB_URL: HUB })).toBe(`--api-socket: ${JSON.stringify(long)} is 108 bytes long; a Unix socket's path holds at most 107`);
    expect(problem(["--api-token-file="], { EDGEFED_HUB_URL: HUB })).toBe("--api-token-file: must not be empty");
  });

  test("unknown options (with a guess), positional arguments and missing values are named, one line for the first", () => {
    expect(problem(["--hub-ulr", HUB], { EDGEFED_HUB_URL: HUB })).toBe("--hub-ulr: unknown option (did you mean --hub-url?)");
    expect(problem(["--api-host=0.0.0.0", "--nope"], { EDGEFED_HUB_URL: HUB })).toBe("--api-host: unknown option (did you mean --api-port?)");
    expect(problem(["--verbose"], { EDGEFED_HUB_URL: HUB })).toBe("--verbose: unknown option (see --help)");
    expect(problem(["check-config"], { EDGEFED_HUB_URL: HUB })).toBe("check-config: unexpected argument (see --help)");
    expect(problem(["--data-dir"], { EDGEFED_HUB_URL: HUB })).toBe("--data-dir: needs a value (write --data-dir=VALUE for one starting with -)");
  });

  test("a flag missing its value does not swallow the next option", () => {
    expect(problem(["--enroll-token", "--offline"])).toBe("--enroll-token: needs a value (write --enroll-token=VALUE for one starting with -)");
  });

  test("--flag=value keeps any further = in the value; the last of a repeated flag wins", () => {
    expect(parse(["--enroll-token=a=b=c", "--api-port", "1", "--api-port=2"], { EDGEFED_HUB_URL: HUB })).toMatchObject({ enrollToken: "a=b=c", apiPort: 2 });
  });

  test("does not read process.env when an environment is given", () => {
    const saved = process.env.EDGEFED_API_PORT;
    process.env.EDGEFED_API_PORT = "1234";
    try {
      expect(parse([], { EDGEFED_HUB_URL: HUB }).apiPort).toBeNull();
    } finally {
      if (saved === undefined) delete process.env.EDGEFED_API_PORT;
      else process.env.EDGEFED_API_PORT = saved;
    }
  });
});

describe("node id", () => {
  test("normaliseNodeId", () => {
    expect(normaliseNodeId("Pi-Kitchen.local")).toBe("pi-kitchen-local");
    expect(normaliseNodeId("--x__y--")).toBe("x-y");
    expect(normaliseNodeId("raspberrypi")).toBe("raspberrypi");
    expect(normaliseNodeId("PI 01 (garage)")).toBe("pi-01-garage");
    expect(normaliseNodeId("")).toBeNull();
    expect(normaliseNodeId("ÄÖÜ")).toBeNull();
    expect(normaliseNodeId("---...___")).toBeNull();
    expect(normaliseNodeId("Küche-1")).toBe("k-che-1");
    expect(normaliseNodeId("\u212A")).toBeNull(); // Kelvin sign: not an ASCII K
    expect(normaliseNodeId("a".repeat(80))).toBe("a".repeat(63));
    // The cut lands just after a dash: the dash goes too.
    expect(normaliseNodeId(`${"a".repeat(62)}.bbbbbbbbbbbbbbbbbb`)).toBe("a".repeat(62));
    // Leading junk is trimmed before the cut, so 63 real characters remain.
    expect(normaliseNodeId(`...${"B".repeat(80)}`)).toBe("b".repeat(63));
  });

  test("defaults to the normalised host name", () => {
    expect(parse([], { EDGEFED_HUB_URL: HUB }, {}, "Pi-Kitchen.local").nodeId).toBe("pi-kitchen-local");
    expect(parse([], { EDGEFED_HUB_URL: HUB }, {}, "x".repeat(80)).nodeId).toBe("x".repeat(63));
  });

  test("a host name that gives no usable id asks for EDGEFED_NODE_ID", () => {
    for (const host of ["", "ÄÖÜ", "..."]) {
      expect(problem([], { EDGEFED_HUB_URL: HUB }, { hostname: () => host })).toBe(
        `EDGEFED_NODE_ID: not set, and the host name ${JSON.stringify(host)} gives no node id; set EDGEFED_NODE_ID (or --node-id)`,
      );
    }
    expect(problem([], { EDGEFED_HUB_URL: HUB }, { hostname: () => "localhost.localdomain" })).toBe(
      'EDGEFED_NODE_ID: not set, and the host name "localhost.localdomain" does not tell nodes apart; set EDGEFED_NODE_ID (or --node-id)',
    );
    const hostname = () => {
      throw new Error("uname failed");
    };
    expect(problem([], { EDGEFED_HUB_URL: HUB }, { hostname })).toBe(
      "EDGEFED_NODE_ID: not set, and the host name cannot be read (uname failed); set EDGEFED_NODE_ID (or --node-id)",
    );
  });

  test("an explicit node id is used as is and the host name is not consulted", () => {
    const hostname = () => {
      throw new Error("must not be called");
    };
    expect(parseAgentSettings(["--node-id", "pi-01"], { EDGEFED_HUB_URL: HUB }, { hostname, readFile: files({}) }).nodeId).toBe("pi-01");
    expect(parseAgentSettings([], { EDGEFED_HUB_URL: HUB }, { hostname, readFile: files({ [DEFAULT_ENV_FILE]: "EDGEFED_NODE_ID=f1" }) }).nodeId).toBe("f1");
    expect(parse(["--node-id", "a".repeat(63)], { EDGEFED_HUB_URL: HUB }).nodeId).toBe("a".repeat(63));
  });

  test("an explicit node id that is not one is refused, never normalised", () => {
    const rule = "is not a node id: lowercase letters, digits and -, starting with a letter or digit, at most 63 characters";
    expect(problem(["--node-id", "Pi-Kitchen.local"], { EDGEFED_HUB_URL: HUB })).toBe(`--node-id: "Pi-Kitchen.local" ${rule} (did you mean "pi-kitchen-local"?)`);
    expect(problem([], { EDGEFED_HUB_URL: HUB, EDGEFED_NODE_ID: "-pi" })).toBe(`EDGEFED_NODE_ID: "-pi" ${rule} (did you mean "pi"?)`);
    expect(problem([], { EDGEFED_HUB_URL: HUB, EDGEFED_NODE_ID: "a".repeat(64) })).toBe(`EDGEFED_NODE_ID: "${"a".repeat(64)}" ${rule} (did you mean "${"a".repeat(63)}"?)`);
    expect(problem([], { EDGEFED_HUB_URL: HUB, EDGEFED_NODE_ID: "" })).toBe(`EDGEFED_NODE_ID: "" ${rule} (unset it to use the host name)`);
    expect(problem(["--node-id=ÄÖÜ"], { EDGEFED_HUB_URL: HUB })).toBe(`--node-id: "ÄÖÜ" ${rule} (unset it to use the host name)`);
  });
});

describe("capabilities", () => {
  const caps = (raw: string) => parse(["--capabilities", raw], { EDGEFED_HUB_URL: HUB }).capabilities;
  const capsProblem = (raw: string) => problem([], { EDGEFED_HUB_URL: HUB, EDGEFED_CAPABILITIES: raw });

  test("comma-separated, spaces around entries allowed, duplicates removed, order kept", () => {
    expect(caps("kernel")).toEqual(["kernel"]);
    expect(caps("sim:fast, kernel ,gpio,kernel,sim:fast,v1.2_x-y")).toEqual(["sim:fast", "kernel", "gpio", "v1.2_x-y"]);
    expect(caps("")).toEqual([]);
  });

  test("each must be a capability", () => {
    for (const bad of ["GPU", "-x", ":x", "a b", "x/y", "c".repeat(65)]) {
      expect(capsProblem(`kernel,${bad}`)).toStartWith(`EDGEFED_CAPABILITIES: ${JSON.stringify(bad.trim())} is not a capability`);
    }
    expect(caps("c".repeat(64))).toEqual(["c".repeat(64)]);
  });

  test("empty entries are refused", () => {
    expect(capsProblem("kernel,,gpio")).toBe('EDGEFED_CAPABILITIES: "kernel,,gpio": entry 2 is empty');
    expect(capsProblem("kernel,")).toBe('EDGEFED_CAPABILITIES: "kernel,": entry 2 is empty');
  });

  test("at most 64, counted after duplicates are removed", () => {
    const distinct = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
    expect(caps(distinct(64).join(","))).toHaveLength(64);
    expect(caps([...distinct(64), ...distinct(64)].join(","))).toEqual(distinct(64));
    expect(capsProblem(distinct(65).join(","))).toBe("EDGEFED_CAPABILITIES: 65 capabilities, at most 64");
  });
});

describe("describeAgentSettings", () => {
  test("masks the enrollment token and shows the rest as is", () => {
    const settings = parse(["--enroll-token", "eft_s3cret-token-value"], { EDGEFED_HUB_URL: HUB });
    const shown = describeAgentSettings(settings);
    expect(shown.enrollToken).toBe("***");
    expect(JSON.stringify(shown)).not.toContain("s3cret");
    expect(shown).toEqual({ ...settings, enrollToken: "***" });
    expect(settings.enrollToken).toBe("eft_s3cret-token-value");
  });

  test("an unset token shows as empty", () => {
    expect(describeAgentSettings(parse([], { EDGEFED_HUB_URL: HUB }))).toEqual({ ...DEFAULTS });
  });
});

describe("agentHelp", () => {
  test("lists every variable with its flag, and nothing else", () => {
    const help = agentHelp();
    for (const [variable, flag] of Object.entries(VARIABLES)) {
      const row = help.split("\n").find((line) => line.includes(` ${variable} `));
      expect(row).toBeDefined();
      expect(row!.trim()).toStartWith(flag);
    }
    expect([...new Set(help.match(/EDGEFED_[A-Z_]+/g))].sort()).toEqual(Object.keys(VARIABLES).sort());
  });

  test("shows defaults, check-config, and that the API is on a socket, on TCP only with a token", () => {
    const help = agentHelp();
    expect(help).toContain("(default /run/edgefed/agent.sock)");
    expect(help).toContain("(default /var/lib/edgefed)");
    expect(help).toContain("(default /etc/edgefed/agent.env)");
    expect(help).toContain("(default 100000)");
    expect(help).toContain("check-config");
    expect(help).toContain("127.0.0.1:PORT, with a bearer token");
  });
});

describe("agentEnvLine", () => {
  test("writes the variable the agent reads back", () => {
    const file = [agentEnvLine("hubUrl", HUB), agentEnvLine("nodeId", "pi-07"), agentEnvLine("capabilities", "kernel,gpio")].join("\n");
    expect(file).toBe(`EDGEFED_HUB_URL=${HUB}\nEDGEFED_NODE_ID=pi-07\nEDGEFED_CAPABILITIES=kernel,gpio`);
    expect(parse([], {}, { [DEFAULT_ENV_FILE]: file })).toMatchObject({ hubUrl: HUB, nodeId: "pi-07", capabilities: ["kernel", "gpio"] });
  });
});
