// Which CA the node trusts for its hub (HTTPS and MQTTS), and how that
// changes: only by a deliberate act of the hub's operator. The CA flashed on
// the card is pinned first. A new one arrives on `hub/ca` signed by the hub's
// Ed25519 key that the node pinned at registration; the node then trusts both
// (the new one kept as <data dir>/tls/hub-ca.next.pem) until a connection to
// its hub chains to the new one, and from then on the new one only
// (<data dir>/tls/hub-ca.pem, which takes the place of the card's). A message
// signed by any other key, or carrying something that is not a CA, changes
// nothing.
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HubCaMessage } from "../protocol/messages.ts";
import { verifyMessage } from "../protocol/signing.ts";
import { CLIENT_TLS_DIR } from "./client-certificate.ts";

const ADOPTED_FILE = "hub-ca.pem";
const NEXT_FILE = "hub-ca.next.pem";

export class HubTrust {
  private readonly adoptedFile: string;
  private readonly nextFile: string;

  constructor(
    dataDir: string,
    /** The CA from the card (EDGEFED_HUB_CA), PEM; "" trusts the system store and never changes. */
    private readonly cardCa: string,
    private readonly log: (line: string) => void,
  ) {
    this.adoptedFile = join(dataDir, CLIENT_TLS_DIR, ADOPTED_FILE);
    this.nextFile = join(dataDir, CLIENT_TLS_DIR, NEXT_FILE);
  }

  /** Whether the node pins a CA at all (else the system store, and no CA change applies). */
  get pinning(): boolean {
    return this.cardCa !== "";
  }

  /** The CA pinned now: an adopted one, else the card's. */
  pinned(): string {
    return this.pinning && existsSync(this.adoptedFile) ? readFileSync(this.adoptedFile, "utf8") : this.cardCa;
  }

  /** The CA announced and not yet seen working, or null. */
  next(): string | null {
    return this.pinning && existsSync(this.nextFile) ? readFileSync(this.nextFile, "utf8") : null;
  }

  /** What TLS connections trust (PEM bundle): the pinned CA, and an announced one while it is not yet confirmed. */
  trusted(): string {
    const next = this.next();
    return next ? `${this.pinned().trimEnd()}\n${next}` : this.pinned();
  }

  /** Takes a `hub/ca` message: kept as the next CA when signed by `hubPublicKey` and new; says in the log what it did. */
  offer(message: HubCaMessage, hubPublicKey: string | null): void {
    if (!this.pinning) return;
    if (!hubPublicKey || !verifyMessage(message, hubPublicKey)) return this.log("a hub CA change not signed by this node's hub key: ignored");
    let ca: X509Certificate;
    try {
      ca = new X509Certificate(message.ca);
    } catch {
      return this.log("a hub CA change whose certificate cannot be read: ignored");
    }
    if (!ca.ca) return this.log("a hub CA change whose certificate is not a CA: ignored");
    if (samePem(message.ca, this.pinned()) || samePem(message.ca, this.next() ?? "")) return;
    mkdirSync(join(this.nextFile, ".."), { recursive: true, mode: 0o700 });
    writeFileSync(`${this.nextFile}.new`, message.ca, { mode: 0o600 });
    renameSync(`${this.nextFile}.new`, this.nextFile);
    this.log(`the hub announced a new CA (${ca.subject}, fingerprint ${ca.fingerprint256}): trusted beside the pinned one until the hub is reached with it`);
  }

  /** After a TLS connection to the hub: when its certificate chains to the announced CA, that CA becomes the only one pinned. */
  connectedWith(serverCertificate: X509Certificate | null): void {
    const next = this.next();
    if (!next || !serverCertificate) return;
    const nextCa = new X509Certificate(next);
    if (!serverCertificate.checkIssued(nextCa) || !serverCertificate.verify(nextCa.publicKey)) return;
    writeFileSync(`${this.adoptedFile}.new`, next, { mode: 0o600 });
    renameSync(`${this.adoptedFile}.new`, this.adoptedFile);
    rmSync(this.nextFile, { force: true });
    this.log(`the hub is reached with its new CA (${nextCa.subject}): it is now the only CA pinned`);
  }
}

function samePem(a: string, b: string): boolean {
  return a.trim() === b.trim();
}
