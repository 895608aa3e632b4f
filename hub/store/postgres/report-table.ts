// What each node's strategy reports, in PostgreSQL (ReportWrites in
// ../hub-store.ts says what each method promises; the SQLite twin is
// ../sqlite/report-table.ts): a batch goes in as one statement, then each
// series it touched is trimmed to its REPORT_HISTORY.
import { REPORT_HISTORY, reportSeries, type ReportKind } from "../../../protocol/reports.ts";
import type { ReportRecord, ReportWrites, StoredReport } from "../hub-store.ts";
import { storedReportOf, type ReportRow } from "../rows/report-rows.ts";
import type { Db } from "./connection.ts";

export class PostgresReportTable implements ReportWrites {
  constructor(private readonly db: Db) {}

  async history(nodeId: string, kind: ReportKind, options: { limit: number; beforeSeq?: number; model?: string }): Promise<StoredReport[]> {
    const series = kind === "models" && options.model !== undefined ? this.db`AND series = ${options.model}` : this.db``;
    const rows = await this.db<ReportRow[]>`
      SELECT seq, node_id, kind, report, received_at FROM node_reports
      WHERE node_id = ${nodeId} AND kind = ${kind} ${series} AND seq < ${options.beforeSeq ?? Number.MAX_SAFE_INTEGER}
      ORDER BY seq DESC LIMIT ${options.limit}`;
    return rows.map(storedReportOf);
  }

  async add(reports: readonly ReportRecord[]): Promise<void> {
    if (reports.length === 0) return;
    const series = reports.map((r) => reportSeries(r.kind, r.report));
    // Only for a registered node: a report queued before the node's removal committed must not outlive it.
    await this.db`
      INSERT INTO node_reports (node_id, kind, series, report, received_at)
      SELECT node_id, kind, series, report, received_at
      FROM unnest(${reports.map((r) => r.nodeId)}::text[], ${reports.map((r) => r.kind)}::text[], ${series}::text[],
                  ${reports.map((r) => JSON.stringify(r.report))}::text[], ${reports.map((r) => String(r.receivedAt))}::bigint[])
        WITH ORDINALITY AS added(node_id, kind, series, report, received_at, position)
      WHERE EXISTS (SELECT 1 FROM nodes WHERE nodes.node_id = added.node_id)
      ORDER BY position`;
    const touched = new Map<string, { nodeId: string; kind: ReportKind; series: string }>();
    reports.forEach((r, i) => touched.set(JSON.stringify([r.nodeId, r.kind, series[i]]), { nodeId: r.nodeId, kind: r.kind, series: series[i]! }));
    for (const one of touched.values()) {
      await this.db`
        DELETE FROM node_reports WHERE node_id = ${one.nodeId} AND kind = ${one.kind} AND series = ${one.series} AND seq <=
          (SELECT seq FROM node_reports WHERE node_id = ${one.nodeId} AND kind = ${one.kind} AND series = ${one.series}
           ORDER BY seq DESC LIMIT 1 OFFSET ${REPORT_HISTORY[one.kind]})`;
    }
  }
}
