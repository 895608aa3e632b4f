// Operators: named admin and viewer tokens, made through the admin API or
// `edgefed-hub operator create`. The token is shown once; the registry keeps
// a scrypt verifier (slow-hash.ts). Revoking or rotating one ends its
// dashboard sessions in the same write, and its old token is refused at once
// (bearer-verifier.ts confirms cached verdicts against the registry). Each
// action is an audit record of who did it, committed with it.
import { appendAudit } from "../audit/audit-chain.ts";
import { DomainError } from "../errors.ts";
import type { HubStore, OperatorRecord } from "../store/hub-store.ts";
import { HUB_ADMIN, newOperatorToken, type OperatorRole } from "./bearer-verifier.ts";
import { secretDigest } from "./secrets.ts";
import { slowVerifier } from "./slow-hash.ts";

export const OPERATOR_ROLES = ["admin", "viewer"] as const satisfies readonly OperatorRole[];
/** Lowercase, no colon: "admin", "watch", "role:<name>" and "cli:<user>" name the hub's own actors in the audit trail. */
export const OPERATOR_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const RESERVED_NAMES = new Set([HUB_ADMIN, "watch"]);

/** An operator as listed: never the token nor its verifier. */
export type ListedOperator = Omit<OperatorRecord, "verifier">;

export function listedOperator({ verifier: _verifier, ...rest }: OperatorRecord): ListedOperator {
  return rest;
}

function checkName(name: string): void {
  if (!OPERATOR_NAME.test(name)) throw new DomainError("invalid", "invalid_body", `name: ${JSON.stringify(name)} is not 1-63 of a-z 0-9 . _ - (starting with a letter or digit)`);
  if (RESERVED_NAMES.has(name)) throw new DomainError("invalid", "invalid_body", `name: "${name}" names the hub's own token in the audit trail; choose another`);
}

async function standing(store: HubStore, name: string): Promise<OperatorRecord> {
  const operator = await store.operators.activeByName(name);
  if (!operator) throw new DomainError("not_found", "unknown_operator", `no operator ${name} in force`);
  return operator;
}

/** Creates an operator; answers its token (the one time it is seen) and its record. */
export async function createOperator(store: HubStore, request: { name: string; role: OperatorRole }, actor: string, now: number): Promise<{ token: string; operator: ListedOperator }> {
  checkName(request.name);
  const { id, token } = newOperatorToken();
  const record: OperatorRecord = { id, name: request.name, role: request.role, verifier: await slowVerifier(secretDigest(token)), createdAt: now, createdBy: actor, rotatedAt: null, revokedAt: null };
  await store.write(async (tx) => {
    if (await tx.operators.activeByName(request.name)) throw new DomainError("conflict", "operator_exists", `an operator ${request.name} is in force already: revoke or rotate it`);
    await tx.operators.add(record);
    await appendAudit(tx, { at: now, actor, action: "operator.create", subject: request.name, detail: { id, role: request.role } });
  });
  return { token, operator: listedOperator(record) };
}

/** Revokes the operator in force by that name and ends its sessions; its token opens nothing from now on. */
export async function revokeOperator(store: HubStore, name: string, actor: string, now: number): Promise<ListedOperator> {
  const operator = await standing(store, name);
  await store.write(async (tx) => {
    if (!(await tx.operators.revoke(operator.id, now))) throw new DomainError("not_found", "unknown_operator", `no operator ${name} in force`);
    const sessions = await tx.sessions.deleteForOperator(operator.id);
    await appendAudit(tx, { at: now, actor, action: "operator.revoke", subject: name, detail: { id: operator.id, sessions_ended: sessions } });
  });
  return listedOperator({ ...operator, revokedAt: now });
}

/** Gives the operator a new token (answered once); the old one and its sessions stop at once. */
export async function rotateOperator(store: HubStore, name: string, actor: string, now: number): Promise<{ token: string; operator: ListedOperator }> {
  const operator = await standing(store, name);
  const { token } = newOperatorToken(operator.id);
  const verifier = await slowVerifier(secretDigest(token));
  await store.write(async (tx) => {
    if (!(await tx.operators.rotate(operator.id, verifier, now))) throw new DomainError("not_found", "unknown_operator", `no operator ${name} in force`);
    const sessions = await tx.sessions.deleteForOperator(operator.id);
    await appendAudit(tx, { at: now, actor, action: "operator.rotate", subject: name, detail: { id: operator.id, sessions_ended: sessions } });
  });
  return { token, operator: listedOperator({ ...operator, verifier, rotatedAt: now }) };
}
