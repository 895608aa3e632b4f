// The hub's registry commands as processes over a real data dir, beside a
// running hub on the same registry: `operator create|list|rotate|revoke`
// (a revoke or rotation from the command line stops the old token at the
// running hub at once, though the hub had it cached), `token
// create|list|revoke` (a revoked token enrols nothing at once), and `audit
// verify` (exit 0 on an intact trail; exit 1 naming an edited record, then a
// deleted one, once the SQLite rows are changed behind the hub's back).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { userInfo } from "node:os";
import { join } from "node:path";
import { openSqliteRegistry } from "../hub/store/sqlite/sqlite-store.ts";
import { BUN, cleanUp, REPO_ROOT } from "./helpers.ts";
import { newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  await t?.stop();
  await cleanUp();
});

/** `bun run hub ...words` on the test hub's data dir. */
function hub(...words: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(BUN, [join(REPO_ROOT, "hub/main.ts"), ...words], {
    env: { PATH: process.env.PATH, EDGEFED_DATA_DIR: t.dataDir },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const CLI = `cli:${userInfo().username}`;

describe("operator commands", () => {
  test("create prints the token once; the running hub takes it; list shows it; rotate and revoke stop the old token there at once", async () => {
    const created = hub("operator", "create", "olga", "--role", "admin");
    expect(created).toMatchObject({ code: 0 });
    const token = created.stdout.trim();
    expect(token).toMatch(/^efo_/);
    expect(created.stderr).not.toContain(token);
    expect((await t.api("GET", "/federation/nodes", undefined, token)).status).toBe(200); // checked and cached by the hub
    expect(hub("operator", "list").stdout).toMatch(new RegExp(`^olga  admin  created \\S+ by ${CLI}  in force$`, "m"));

    const rotated = hub("operator", "rotate", "olga");
    expect(rotated.code).toBe(0);
    const newToken = rotated.stdout.trim();
    expect((await t.api("GET", "/federation/nodes", undefined, token)).status).toBe(401);
    expect((await t.api("GET", "/federation/nodes", undefined, newToken)).status).toBe(200);

    expect(hub("operator", "revoke", "olga").code).toBe(0);
    expect((await t.api("GET", "/federation/nodes", undefined, newToken)).status).toBe(401);
    expect(hub("operator", "list").stdout).toMatch(/^olga  admin .* revoked \S+$/m);
    const audit = (await t.api("GET", "/api/federation/audit")).body.records.filter((r: any) => r.subject === "olga");
    expect(audit.map((r: any) => [r.action, r.actor])).toEqual([
      ["operator.revoke", CLI],
      ["operator.rotate", CLI],
      ["operator.create", CLI],
    ]);
  }, 60_000); // each command is a process start (~0.5-1 s on the loaded machine)

  test("a viewer by default; mistakes exit 2 with one line, an unknown operator exits 1 with one line", () => {
    expect(hub("operator", "create", "pete").code).toBe(0);
    expect(hub("operator", "list").stdout).toMatch(/^pete  viewer /m);
    expect(hub("operator", "create", "quinn", "--role", "root")).toMatchObject({ code: 2 });
    expect(hub("operator", "frob")).toMatchObject({ code: 2, stderr: "edgefed-hub: operator frob: the operator commands are create, list, revoke and rotate (see --help)\n" });
    expect(hub("operator", "revoke")).toMatchObject({ code: 2 });
    expect(hub("operator", "revoke", "nobody")).toMatchObject({ code: 1, stderr: "edgefed-hub: no operator nobody in force\n" });
    expect(hub("operator", "create", "pete")).toMatchObject({ code: 1 });
  }, 60_000); // each command is a process start (~0.5-1 s on the loaded machine)
});

describe("token commands", () => {
  test("list shows each token by id with who made it; revoke stops enrolment at the running hub at once", async () => {
    const token = hub("token", "create", "--uses", "5", "--label", "rack 9").stdout.trim();
    expect((await t.api("POST", "/federation/register", registerBody(newNode("pi-cli-1")), token)).status).toBe(201);
    const line = hub("token", "list").stdout.split("\n").find((l) => l.includes('"rack 9"'))!;
    expect(line).toMatch(new RegExp(`^[0-9a-f]{12}  "rack 9"  uses left 4  expires \\S+  by ${CLI}  usable$`));
    const id = line.slice(0, 12);
    expect(hub("token", "revoke", id).code).toBe(0);
    const refused = await t.api("POST", "/federation/register", registerBody(newNode("pi-cli-2")), token);
    expect(refused.status).toBe(401);
    expect(hub("token", "list").stdout).toContain(`${id}  "rack 9"  uses left 4`);
    expect(hub("token", "list").stdout).toMatch(new RegExp(`^${id} .* revoked \\S+$`, "m"));
    expect(hub("token", "revoke", id)).toMatchObject({ code: 1, stderr: `edgefed-hub: no token ${id} that is not revoked already\n` });
    expect(hub("token", "frob")).toMatchObject({ code: 2 });
  }, 60_000); // each command is a process start (~0.5-1 s on the loaded machine)
});

describe("audit verify", () => {
  test("passes on the trail the hub and the commands wrote; names an edited record, then a deleted one (exit 1)", async () => {
    const intact = hub("audit", "verify");
    expect(intact).toMatchObject({ code: 0 });
    expect(intact.stdout).toMatch(/^audit trail intact: \d+ record\(s\), every hash matches\n$/);
    const records = Number(/intact: (\d+)/.exec(intact.stdout)![1]);
    expect(records).toBeGreaterThanOrEqual(6);

    // Someone with the registry file: drops the append-only triggers and edits record 2's actor.
    const registry = openSqliteRegistry(t.dataDir);
    registry.db.exec("DROP TRIGGER audit_trail_no_update; DROP TRIGGER audit_trail_no_delete;");
    registry.db.exec("UPDATE audit_trail SET actor = 'someone-else' WHERE seq = 2");
    const edited = hub("audit", "verify");
    expect(edited.code).toBe(1);
    expect(edited.stderr).toStartWith("audit trail broken at record 2: record 2 does not match its hash (edited)");

    registry.db.exec("DELETE FROM audit_trail WHERE seq = 2");
    const deleted = hub("audit", "verify");
    expect(deleted.code).toBe(1);
    expect(deleted.stderr).toStartWith("audit trail broken at record 2: record 2 is missing (deleted)");
    registry.close();
    expect(hub("audit", "frob")).toMatchObject({ code: 2 });
  }, 60_000); // each command is a process start (~0.5-1 s on the loaded machine)
});
