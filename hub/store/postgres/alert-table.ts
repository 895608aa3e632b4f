// The alerts the hub raised, in PostgreSQL, and the webhook's outbox
// (AlertWrites in ../hub-store.ts says what each method promises; the SQLite
// twin is ../sqlite/alert-table.ts). The highest seq ever given outlives the
// alert it numbered in store_counters ('alerts'), as SQLite's sqlite_sequence
// keeps it there.
import { DEFAULT_STORE_BOUNDS, type AlertDelivery, type AlertOutboxEntry, type AlertWrites, type StoreBounds, type StoredAlert } from "../hub-store.ts";
import type { Db } from "./connection.ts";

export class PostgresAlertTable implements AlertWrites {
  constructor(
    private readonly db: Db,
    private readonly bounds: StoreBounds = DEFAULT_STORE_BOUNDS,
  ) {}

  async add(alert: StoredAlert): Promise<void> {
    await this.db`
      INSERT INTO alerts (seq, severity, kind, subject, message, at, delivery)
      VALUES (${alert.seq}, ${alert.severity}, ${alert.kind}, ${alert.subject}, ${alert.message}, ${alert.at}, ${alert.delivery})`;
    await this.db`
      INSERT INTO store_counters (name, value) VALUES ('alerts', ${alert.seq})
      ON CONFLICT (name) DO UPDATE SET value = greatest(store_counters.value, excluded.value)`;
    if (alert.delivery === "queued") await this.db`INSERT INTO alert_outbox (alert_seq, attempts, next_attempt_at) VALUES (${alert.seq}, 0, ${alert.at})`;
    await this.db`
      DELETE FROM alerts WHERE (seq <= ${alert.seq - this.bounds.alertsKept} OR at < ${alert.at - this.bounds.alertsMs})
        AND seq NOT IN (SELECT alert_seq FROM alert_outbox)`;
  }

  async nextSeq(): Promise<number> {
    const [row] = await this.db<{ value: number }[]>`
      INSERT INTO store_counters (name, value) VALUES ('alerts', 1)
      ON CONFLICT (name) DO UPDATE SET value = store_counters.value + 1 RETURNING value`;
    return row!.value;
  }

  async list(options: { since?: number; limit: number; delivery?: AlertDelivery }): Promise<StoredAlert[]> {
    const delivery = options.delivery === undefined ? this.db`` : this.db`AND delivery = ${options.delivery}`;
    return this.db<StoredAlert[]>`
      SELECT seq, severity, kind, subject, message, at, delivery FROM alerts
      WHERE at >= ${options.since ?? 0} ${delivery} ORDER BY seq DESC LIMIT ${options.limit}`.then((rows) => [...rows]);
  }

  async lastSeq(): Promise<number> {
    const [row] = await this.db<{ value: number }[]>`SELECT value FROM store_counters WHERE name = 'alerts'`;
    return row?.value ?? 0;
  }

  async count(): Promise<number> {
    const [row] = await this.db<{ n: number }[]>`SELECT count(*) AS n FROM alerts`;
    return row!.n;
  }

  async outbox(limit: number): Promise<AlertOutboxEntry[]> {
    const rows = await this.db<(StoredAlert & { attempts: number; next_attempt_at: number })[]>`
      SELECT a.seq, a.severity, a.kind, a.subject, a.message, a.at, a.delivery, o.attempts, o.next_attempt_at
      FROM alert_outbox o JOIN alerts a ON a.seq = o.alert_seq ORDER BY o.alert_seq LIMIT ${limit}`;
    return rows.map(({ attempts, next_attempt_at, ...alert }) => ({ alert, attempts, nextAttemptAt: next_attempt_at }));
  }

  async setDelivery(seqs: readonly number[], delivery: AlertDelivery): Promise<void> {
    if (seqs.length === 0) return;
    const list = seqs.map(String);
    await this.db`UPDATE alerts SET delivery = ${delivery} WHERE seq = ANY(${list}::bigint[]) AND delivery IN ('queued', 'held')`;
    if (delivery !== "queued") await this.db`DELETE FROM alert_outbox WHERE alert_seq = ANY(${list}::bigint[])`;
  }

  async retryLater(seq: number, attempts: number, nextAttemptAt: number): Promise<void> {
    await this.db`UPDATE alert_outbox SET attempts = ${attempts}, next_attempt_at = ${nextAttemptAt} WHERE alert_seq = ${seq}`;
  }
}
