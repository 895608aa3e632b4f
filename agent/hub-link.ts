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
import type { AgentStore, HubRegistration, NodeIdentity } from "./agent-store.ts";
import type { ConnectivityLog } from "./connectivity-log.ts";
import type { Outbox } from "./outbox.ts";
import type { PolicyFollower } from "./policy-follower.ts";
import { registerOnce, type Advertisement, type RegistrationAttempt } from "./registration.ts";

const REGISTER_BASE_MS = 1000;
/** An attempt number whose backoff is the cap (EDGEFED_RECONNECT_MAX_S): the pace of asking a hub that removed this node. */
const REGISTER_SLOW_END = 30;

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
  log(line: string): void;
}

export class HubLink implements AgentPart {
  private readonly session: AgentMqtt;
  private readonly listeners: LinkListener[] = [];
  private registerTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** The hub refused to register this node because an operator removed it (until readmitted). */
  private removed = false;

  constructor(private readonly options: HubLinkOptions) {
    this.session = new AgentMqtt({
      nodeId: options.identity.nodeId,
      ca: options.hubCa ?? "",
      credentials: () => this.registration()?.mqtt ?? null,
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
      log: options.log,
    });
  }

  listen(...listeners: LinkListener[]): void {
    this.listeners.push(...listeners);
  }

  start(): void {
    if (!this.hasHub) return;
    if (this.registration()) this.session.start();
    else this.registerLoop(0);
  }

  /** A clean stop: `state` offline, then a clean disconnect (see AgentMqtt.stop). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.registerTimer) clearTimeout(this.registerTimer);
    await this.session.stop();
  }

  /** False when the agent runs without a hub (simulation only). */
  get hasHub(): boolean {
    return this.options.hubUrl !== "";
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
    void registerOnce(hubUrl, enrollToken, identity, advertisement, Date.now(), this.options.hubCa ?? "").then((result) => {
      if (this.stopped) return;
      if (result.kind === "registered") return this.registeredWith(result);
      this.registerTimer = setTimeout(() => this.registerLoop(attempt + 1), this.retryDelay(result, attempt));
    });
  }

  private registeredWith({ registration, follows }: Extract<RegistrationAttempt, { kind: "registered" }>): void {
    const { store, policy, log } = this.options;
    if (this.removed) log("readmitted on the hub: registered again");
    this.removed = false;
    const previous = this.registration();
    // One transaction: a crash cannot keep the new registration without what it meant for the policy.
    store.db.transaction(() => {
      policy.followRegistration({ follows, hubKeyChanged: previous !== undefined && previous.hubPublicKey !== registration.hubPublicKey });
      store.saveRegistration(registration);
    });
    log(`registered with ${this.options.hubUrl} as ${this.options.identity.nodeId}`);
    for (const listener of this.listeners) listener.registered?.();
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
