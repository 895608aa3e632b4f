// The agent's link to its hub: registration over HTTP (retried with jittered
// backoff, simulation mode meanwhile), then the MQTT session (AgentMqtt),
// which publishes the outbox while the hub is up. Decisions and desired
// policies from the hub go to the policy follower. Each change of
// connectivity is logged, kept in the connectivity log and told to the
// listeners (offline hold, heartbeats). Without a hub URL it does nothing.
import { backoffMs } from "../lib/backoff.ts";
import type { AllowTables } from "../protocol/allow-tables.ts";
import type { BirthMessage } from "../protocol/messages.ts";
import type { AgentPart } from "./agent-part.ts";
import { AgentMqtt } from "./agent-mqtt.ts";
import type { ReceiptTiming } from "./awaiting-receipts.ts";
import type { AgentStore, HubRegistration, NodeIdentity } from "./agent-store.ts";
import type { ConnectivityLog } from "./connectivity-log.ts";
import type { Outbox } from "./outbox.ts";
import type { PolicyFollower } from "./policy-follower.ts";
import { registerOnce, type Advertisement, type RegistrationAttempt } from "./registration.ts";
import { ClientCertificateFiles } from "./client-certificate.ts";
import { HubTrust } from "./hub-trust.ts";
import { decodeTopic } from "../protocol/topics.ts";

const REGISTER_BASE_MS = 1000;
/** An attempt number whose backoff is the cap (EDGEFED_RECONNECT_MAX_S): the pace of asking a hub that removed this node. */
const REGISTER_SLOW_END = 30;
/** The longest wait one setTimeout holds (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What other parts hear from the link. */
export interface LinkListener {
  /** Online (connected to the broker, and the hub says it is up), or not any more. */
  connectivityChanged?(online: boolean): void;
  /** Registered (again): the hub may have given another heartbeat interval. */
  registered?(): void;
}

export interface HubLinkOptions {
  /** "" for no hub: simulation only. */
  hubUrl: string;
  enrollToken: string;
  /** The hub's CA certificate (PEM), the only one trusted for HTTPS and MQTTS; "" or absent: the system store. */
  hubCa?: string;
  /** Where the node keeps its client certificate and TLS key (<dataDir>/tls); pinned to a hub CA, the node asks for one at registration. */
  dataDir?: string;
  advertisement: Advertisement;
  kernelConfigHash: string;
  /** Said in every birth, so the hub refuses allocations naming a model this node does not allow; null: not said. */
  allowTables?: AllowTables | null;
  reconnectMaxS: number;
  bootId: string;
  identity: NodeIdentity;
  store: AgentStore;
  outbox: Outbox;
  connectivity: ConnectivityLog;
  policy: PolicyFollower;
  /** Work packages run at once, said in the birth (0: none). */
  workSlots: number;
  /** The work kinds it resumes after a restart, said in the birth. */
  resumableKinds: string[];
  /** A work package leased to this node. */
  onWorkOffer(payload: Buffer): void;
  receiptTiming?: Partial<ReceiptTiming>;
  log(line: string): void;
}

export class HubLink implements AgentPart {
  private readonly session: AgentMqtt;
  private readonly listeners: LinkListener[] = [];
  private registerTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** The hub refused to register this node because an operator removed it (until readmitted). */
  private removed = false;
  /** The node's client certificate (mutual TLS): with a pinned hub CA only, as a certificate is only of use over TLS. */
  private readonly certificates: ClientCertificateFiles | null;
  private renewalTimer: ReturnType<typeof setTimeout> | null = null;
  /** The hub CA pinned, and one the hub announced (signed) while not yet confirmed. */
  private readonly trust: HubTrust | null;

  constructor(private readonly options: HubLinkOptions) {
    this.certificates = options.hubCa && options.dataDir ? new ClientCertificateFiles(options.dataDir, options.identity.nodeId) : null;
    this.trust = options.dataDir ? new HubTrust(options.dataDir, options.hubCa ?? "", options.log) : null;
    this.session = new AgentMqtt({
      nodeId: options.identity.nodeId,
      ca: () => this.trustedCa(),
      onHubCa: (payload) => {
        const message = decodeTopic("hub/ca", payload);
        if (!message.ok) return payload.length > 0 && options.log(`a hub CA change that does not decode: ${message.error}`);
        this.trust?.offer(message.value, this.registration()?.hubPublicKey ?? null);
      },
      onTlsSession: (serverCertificate) => this.trust?.connectedWith(serverCertificate),
      credentials: () => this.registration()?.mqtt ?? null,
      clientCertificate: () => this.certificates?.load() ?? null,
      outbox: options.outbox,
      bootId: options.bootId,
      birth: () => this.birth(),
      onCommand: (payload) => {
        options.policy.applyDecision(payload);
        this.kick(); // its ack is queued
      },
      onPolicy: (payload, source) => options.policy.adoptDesiredPolicy(payload, source),
      onWorkOffer: (payload) => options.onWorkOffer(payload),
      onConnectivity: (online) => this.connectivityChanged(online),
      onCredentialsRefused: () => {
        options.log("the broker refused this node's credentials (revoked or replaced): registering again");
        this.registerLoop(0);
      },
      reconnectMaxMs: options.reconnectMaxS * 1000,
      receiptTiming: options.receiptTiming,
      log: options.log,
    });
  }

  listen(...listeners: LinkListener[]): void {
    this.listeners.push(...listeners);
  }

  start(): void {
    if (!this.hasHub) return;
    if (this.registration()) {
      this.session.start();
      this.scheduleRenewal();
    } else this.registerLoop(0);
  }

  /** A clean stop: `state` offline, then a clean disconnect (see AgentMqtt.stop). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.registerTimer) clearTimeout(this.registerTimer);
    if (this.renewalTimer) clearTimeout(this.renewalTimer);
    await this.session.stop();
  }

  /** False when the agent runs without a hub (simulation only). */
  get hasHub(): boolean {
    return this.options.hubUrl !== "";
  }

  /** Events awaiting the hub's receipt, the oldest one's age, resends (agent-mqtt.ts). */
  receiptStats(): ReturnType<AgentMqtt["receiptStats"]> {
    return this.session.receiptStats();
  }

  /** Connected to the broker, and the hub says it is up. */
  get online(): boolean {
    return this.session.online;
  }

  /** Registered with the hub and not removed there since. */
  get registered(): boolean {
    return this.registration() !== undefined && !this.removed;
  }

  get removedOnHub(): boolean {
    return this.removed;
  }

  registration(): HubRegistration | undefined {
    return this.hasHub ? this.options.store.registration(this.options.hubUrl) : undefined;
  }

  /** Something was queued in the outbox: publish it if online (safe to call any time). */
  kick(): void {
    this.session.kick();
  }

  private connectivityChanged(online: boolean): void {
    this.options.connectivity.record(online, Date.now());
    this.options.log(online ? "online: replaying the outbox, then publishing live" : "offline: simulation mode, queuing in the outbox");
    for (const listener of this.listeners) listener.connectivityChanged?.(online);
  }

  private birth(): BirthMessage {
    const { identity, advertisement } = this.options;
    return {
      node_id: identity.nodeId,
      version: advertisement.version,
      arch: advertisement.arch,
      capabilities: advertisement.capabilities,
      kernel_config_hash: this.options.kernelConfigHash,
      ...(this.options.allowTables ? { allowed_models: this.options.allowTables } : {}),
      work_slots: this.options.workSlots,
      resumable_kinds: this.options.resumableKinds,
      bootId: this.options.bootId,
      session: this.options.store.nextSession(),
      ts: Date.now(),
    };
  }

  /** Registers with the hub, retrying with jittered backoff; simulation mode meanwhile. */
  private registerLoop(attempt: number): void {
    if (this.stopped) return;
    if (this.registerTimer) clearTimeout(this.registerTimer);
    this.registerTimer = null;
    const { hubUrl, enrollToken, identity, advertisement } = this.options;
    void registerOnce(hubUrl, enrollToken, identity, advertisement, Date.now(), this.trustedCa(), this.certificateRequest()).then((result) => {
      if (this.stopped) return;
      if (result.kind === "registered") return this.registeredWith(result);
      this.registerTimer = setTimeout(() => this.registerLoop(attempt + 1), this.retryDelay(result, attempt));
    });
  }

  /** The CA certificates (PEM) trusted for the hub now; "" for the system store. */
  private trustedCa(): string {
    return this.trust ? this.trust.trusted() : (this.options.hubCa ?? "");
  }

  /** A request for a client certificate, or undefined (no pinned CA, or openssl failed: registering without one, said in the log). */
  private certificateRequest(): string | undefined {
    if (!this.certificates) return undefined;
    try {
      return this.certificates.request();
    } catch (error) {
      this.options.log(`cannot make a client certificate request, registering without one: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Keeps the client certificate the hub issued, then arms its renewal. */
  private keepCertificate(certificate: string | undefined): void {
    if (!this.certificates) return;
    if (certificate === undefined) {
      this.options.log("the hub issued no client certificate (it has no CA of its own, or is older): connecting with the broker password only");
      return;
    }
    const problem = this.certificates.save(certificate, this.trustedCa());
    if (problem) return this.options.log(`${problem}: not kept`); // asked for again at the next start
    this.scheduleRenewal();
  }

  /**
   * Registers again (signed proof, new request) once 2/3 of the certificate's validity
   * has passed. Timers are capped (setTimeout holds at most 24.8 days), so it re-checks.
   */
  private scheduleRenewal(): void {
    if (!this.certificates || this.stopped) return;
    if (this.renewalTimer) clearTimeout(this.renewalTimer);
    const wait = this.certificates.renewAt(Date.now()) - Date.now();
    this.renewalTimer = setTimeout(
      () => {
        this.renewalTimer = null;
        if (this.certificates!.renewAt(Date.now()) > Date.now()) return this.scheduleRenewal();
        this.options.log("renewing the client certificate: registering again");
        this.registerLoop(0);
      },
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
  }

  private registeredWith({ registration, follows, clientCertificate }: Extract<RegistrationAttempt, { kind: "registered" }>): void {
    const { store, policy, log } = this.options;
    if (this.removed) log("readmitted on the hub: registered again");
    this.removed = false;
    const previous = this.registration();
    // One transaction: a crash cannot keep the new registration without what it meant for the policy.
    store.db.transaction(() => {
      policy.followRegistration({ follows, hubKeyChanged: previous !== undefined && previous.hubPublicKey !== registration.hubPublicKey });
      store.saveRegistration(registration);
    });
    this.keepCertificate(clientCertificate);
    log(`registered with ${this.options.hubUrl} as ${this.options.identity.nodeId}`);
    for (const listener of this.listeners) listener.registered?.();
    // A session under way (a renewal) reconnects with the new password and certificate.
    this.session.start();
  }

  /** How long until the next attempt, said in the log (once only while removed). */
  private retryDelay(result: Exclude<RegistrationAttempt, { kind: "registered" }>, attempt: number): number {
    const { log, reconnectMaxS } = this.options;
    if (result.kind === "removed") {
      // Removed by an operator: ask again only at the slow end of the backoff, so a
      // readmission takes effect without a restart; say so once, not on every try.
      if (!this.removed) log(`this node was removed on the hub (${result.reason}); staying in simulation mode, asking again about every ${reconnectMaxS} s`);
      this.removed = true;
      return backoffMs(REGISTER_SLOW_END, REGISTER_BASE_MS, reconnectMaxS * 1000);
    }
    const delay = backoffMs(attempt, REGISTER_BASE_MS, reconnectMaxS * 1000);
    log(`registration ${result.kind === "refused" ? `refused (${result.status}: ${result.reason})` : `failed (${result.reason})`}; again in ${Math.round(delay / 1000)} s`);
    return delay;
  }
}
