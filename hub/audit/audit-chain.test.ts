// The audit trail's hash chain (audit-chain.ts) on a real registry file:
// appended records chain, verify passes; an edited record (the SQLite row
// changed directly), one edited and hashed again, a deleted one and records
// cut off the end are each found and named.
import { afterEach, describe, expect, test } from "bun:test";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { openSqliteRegistry, openSqliteStore } from "../store/sqlite/sqlite-store.ts";
import type { HubStore } from "../store/hub-store.ts";
import { appendAudit, auditHash, verifyAuditTrail } from "./audit-chain.ts";

afterEach(cleanUp);

const NOW = 1_700_000_000_000;

async function trailOf(records: number): Promise<{ dir: string; store: HubStore }> {
  const dir = tempDir();
  const store = openSqliteStore(dir);
  for (let i = 1; i <= records; i++) {
    await store.write((tx) => appendAudit(tx, { at: NOW + i, actor: i % 2 ? "admin" : "alice", action: "token.create", subject: `t${i}`, detail: { uses: i, label: "x" } }));
  }
  await store.close();
  return { dir, store: closeLater(openSqliteStore(dir)) };
}

/** Changes the registry file behind the store's back, as someone with the file could (the triggers dropped first). */
function tamper(dir: string, sql: string): void {
  const registry = openSqliteRegistry(dir);
  registry.db.exec("DROP TRIGGER audit_trail_no_update; DROP TRIGGER audit_trail_no_delete;");
  registry.db.exec(sql);
  registry.close();
}

describe("the audit trail's hash chain", () => {
  test("records chain from an empty previous hash; an intact trail verifies, an empty one too", async () => {
    const { store } = await trailOf(3);
    const [first, second] = await store.audit.after(0, 10);
    expect(first!.prevHash).toBe("");
    expect(second!.prevHash).toBe(first!.hash);
    expect(first!.hash).toBe(auditHash(first!));
    expect(await verifyAuditTrail(store)).toEqual({ ok: true, records: 3 });
    expect(await verifyAuditTrail((await trailOf(0)).store)).toEqual({ ok: true, records: 0 });
  });

  test("a record edited in the SQLite file is named", async () => {
    const { dir } = await trailOf(5);
    tamper(dir, "UPDATE audit_trail SET actor = 'mallory' WHERE seq = 3");
    const verdict = await verifyAuditTrail(closeLater(openSqliteStore(dir)));
    expect(verdict).toMatchObject({ ok: false, seq: 3, records: 2 });
  });

  test("a record edited and hashed again is named by the link to the next", async () => {
    const { dir, store } = await trailOf(5);
    const third = (await store.audit.after(2, 1))[0]!;
    await store.close();
    const forged = { ...third, detail: { uses: 999, label: "x" } };
    tamper(dir, `UPDATE audit_trail SET detail = '${JSON.stringify(forged.detail)}', hash = '${auditHash(forged)}' WHERE seq = 3`);
    expect(await verifyAuditTrail(closeLater(openSqliteStore(dir)))).toMatchObject({ ok: false, seq: 3 });
  });

  test("a deleted record is named, and so are records cut off the end", async () => {
    const { dir, store } = await trailOf(5);
    await store.close();
    tamper(dir, "DELETE FROM audit_trail WHERE seq = 2");
    const verdict = await verifyAuditTrail(closeLater(openSqliteStore(dir)));
    expect(verdict).toMatchObject({ ok: false, seq: 2, records: 1 });
    expect((verdict as { problem: string }).problem).toContain("missing");
    const cut = await trailOf(5);
    await cut.store.close();
    tamper(cut.dir, "DELETE FROM audit_trail WHERE seq >= 4");
    expect(await verifyAuditTrail(closeLater(openSqliteStore(cut.dir)))).toMatchObject({ ok: false, seq: 4, records: 3 });
  });
});
