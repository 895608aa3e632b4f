// The audit trail's hash chain: each record carries the hash of the one
// before, and its own hash is the sha256 of its canonical JSON (sorted keys,
// safe-stable-stringify), so editing, deleting or re-ordering a record breaks
// the chain where it happened. The registry also keeps the head (the last
// seq and hash appended, hub value "audit_head"), so cutting records off the
// end shows too. appendAudit runs inside the write that does the action: the
// record commits with it or not at all.
import { createHash } from "node:crypto";
import { stringify } from "safe-stable-stringify";
import type { AuditEntry, AuditReads, AuditRecord, HubValueReads, StoreTransaction } from "../store/hub-store.ts";

const HEAD = "audit_head";

/** The hash of a record: everything in it but the hash itself. */
export function auditHash(record: Omit<AuditRecord, "hash">): string {
  const { seq, at, actor, action, subject, detail, prevHash } = record;
  return createHash("sha256").update(stringify({ seq, at, actor, action, subject, detail, prev_hash: prevHash })!).digest("hex");
}

export async function appendAudit(tx: StoreTransaction, entry: AuditEntry): Promise<AuditRecord> {
  const last = await tx.audit.last();
  const unhashed = { ...entry, seq: (last?.seq ?? 0) + 1, prevHash: last?.hash ?? "" };
  const record = { ...unhashed, hash: auditHash(unhashed) };
  await tx.audit.append(record);
  await tx.hubValues.put(HEAD, `${record.seq}:${record.hash}`);
  return record;
}

export type AuditVerdict = { ok: true; records: number } | { ok: false; records: number; seq: number; problem: string };

const PAGE = 1000;

/** Walks the whole trail oldest first; names the first record that does not match. */
export async function verifyAuditTrail(store: { audit: AuditReads; hubValues: HubValueReads }): Promise<AuditVerdict> {
  let previous: AuditRecord | undefined;
  let records = 0;
  for (;;) {
    const page = await store.audit.after(previous?.seq ?? 0, PAGE);
    for (const record of page) {
      const expectedSeq = (previous?.seq ?? 0) + 1;
      const fail = (seq: number, problem: string): AuditVerdict => ({ ok: false, records, seq, problem });
      if (record.seq !== expectedSeq) return fail(expectedSeq, `record ${expectedSeq} is missing (deleted): the trail goes from ${expectedSeq - 1} to ${record.seq}`);
      if (record.prevHash !== (previous?.hash ?? "")) {
        return fail(expectedSeq - 1, `record ${expectedSeq - 1} does not match the hash record ${expectedSeq} carries (edited and hashed again, or replaced)`);
      }
      if (auditHash(record) !== record.hash) return fail(record.seq, `record ${record.seq} does not match its hash (edited)`);
      previous = record;
      records++;
    }
    if (page.length < PAGE) break;
  }
  const head = await store.hubValues.get(HEAD);
  const [headSeq, headHash] = head ? [Number(head.split(":")[0]), head.split(":")[1]] : [0, ""];
  const lastSeq = previous?.seq ?? 0;
  if (headSeq !== lastSeq || (previous && previous.hash !== headHash)) {
    const seq = Math.min(headSeq, lastSeq + 1);
    return { ok: false, records, seq, problem: `the trail ends at record ${lastSeq} but the hub last appended record ${headSeq}: records were cut off the end or the last replaced` };
  }
  return { ok: true, records };
}
