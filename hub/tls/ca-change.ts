// A change of the hub's CA as a deliberate operator act: the new CA
// certificate goes to every node in a `hub/ca` message signed by the hub's
// Ed25519 key (the one nodes pinned at registration), retained. A node trusts
// it beside its pinned CA until it reaches the hub with a certificate from
// the new one (agent/hub-trust.ts), so the operator announces first, waits,
// then switches the hub's certificate (new CA files in <data dir>/tls, or
// EDGEFED_TLS_CERT/KEY/CA) and restarts or reloads it.
//
// Not a decision: the ten decision types are the federation contract's fixed
// set (issue 11) and change the kernel's policy through the decision log and
// acks; a CA is transport trust, for every node at once, and needs no ack.
// The announcement is kept in <data dir>/tls/ca-change.json so it is
// published again after a restart (the embedded broker forgets retained
// messages).
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HubCaMessage } from "../../protocol/messages.ts";
import { signMessage } from "../../protocol/signing.ts";
import { deliveryOf, HUB_CA_TOPIC, type Delivery } from "../../protocol/topics.ts";
import { DomainError } from "../errors.ts";
import type { HubContext } from "../hub-context.ts";
import { TLS_DIR } from "./hub-pki.ts";

const ANNOUNCEMENT_FILE = "ca-change.json";

/** Signs, keeps and publishes a new CA for the fleet; "invalid" when `caPem` is not one CA certificate. */
export async function announceCaChange(hub: Pick<HubContext, "settings" | "identity" | "publish" | "clock" | "log">, caPem: unknown): Promise<{ message: HubCaMessage; fingerprint: string; subject: string }> {
  const unsigned = { ca: typeof caPem === "string" ? caPem : "", issuedAt: hub.clock() };
  const message = signMessage(unsigned, hub.identity.keys.privateKey);
  const parsed = HubCaMessage.safeParse(message);
  if (!parsed.success) throw new DomainError("invalid", "invalid_ca", `ca: ${parsed.error.issues[0]?.message ?? "one PEM certificate"}`);
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(message.ca);
  } catch (error) {
    throw new DomainError("invalid", "invalid_ca", `ca: not a certificate (${(error as Error).message})`);
  }
  if (!ca.ca) throw new DomainError("invalid", "invalid_ca", "ca: the certificate is not a CA (basicConstraints CA:TRUE)");
  const file = join(hub.settings.dataDir, TLS_DIR, ANNOUNCEMENT_FILE);
  mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.new`, JSON.stringify(message), { mode: 0o600 });
  renameSync(`${file}.new`, file);
  await hub.publish(HUB_CA_TOPIC, JSON.stringify(message), deliveryOf("hub/ca"));
  hub.log(`TLS: announced a new CA to the fleet (${ca.subject}, fingerprint ${ca.fingerprint256}); switch the hub's certificate once the nodes have it`);
  return { message, fingerprint: ca.fingerprint256, subject: ca.subject };
}

/** The announcement to publish again on every connect (retained), or nothing. */
export function storedCaChange(dataDir: string): { topic: string; payload: string; delivery: Delivery }[] {
  const file = join(dataDir, TLS_DIR, ANNOUNCEMENT_FILE);
  if (!existsSync(file)) return [];
  return [{ topic: HUB_CA_TOPIC, payload: readFileSync(file, "utf8"), delivery: deliveryOf("hub/ca") }];
}
