// What keeps roles from flapping besides each rule's own hysteresis: a
// least time between two decisions of one role to one target, a cap on a
// role's decisions in any hour, and a role's silence on a decision an
// operator overrode.
import type { FederationConfig } from "./config.ts";
import type { RoleName } from "./role.ts";

const HOUR_MS = 3_600_000;

export type Refusal = "suppressed" | "too_soon" | "hourly_cap";

export class Throttle {
  private lastByTarget = new Map<string, number>();
  private madeInHour = new Map<RoleName, number[]>();
  private suppressedUntil = new Map<string, number>();

  constructor(private config: FederationConfig) {}

  setConfig(config: FederationConfig): void {
    this.config = config;
  }

  /** Why the role may not make a decision of `type` to `target` at `at`, or null. */
  refusal(role: RoleName, type: string, target: string, at: number): Refusal | null {
    const until = this.suppressedUntil.get(`${role}|${type}|${target}`);
    if (until !== undefined && at < until) return "suppressed";
    const interval = (this.config.roles[role].min_interval_s ?? this.config.engine.min_interval_s) * 1000;
    const last = this.lastByTarget.get(`${role}|${target}`);
    if (last !== undefined && at - last < interval) return "too_soon";
    if (this.capped(role, at)) return "hourly_cap";
    return null;
  }

  /** The role made its hourly cap of decisions in the hour before `at`. */
  capped(role: RoleName, at: number): boolean {
    return this.recent(role, at).length >= this.config.engine.max_decisions_per_hour;
  }

  made(role: RoleName, target: string, at: number): void {
    this.lastByTarget.set(`${role}|${target}`, at);
    this.recent(role, at).push(at);
  }

  /** An operator overrode the role's decision of `type` to `target`: it stays silent on it for a while. */
  suppress(role: RoleName, type: string, target: string, at: number): void {
    this.suppressedUntil.set(`${role}|${type}|${target}`, at + this.config.engine.override_suppression_s * 1000);
  }

  private recent(role: RoleName, at: number): number[] {
    let times = this.madeInHour.get(role);
    if (!times) this.madeInHour.set(role, (times = []));
    while (times.length && times[0]! <= at - HOUR_MS) times.shift();
    return times;
  }
}
