// What each node's strategy reported (protocol/reports.ts), in SQLite: the
// newest REPORT_HISTORY of each series per node (ReportWrites in
// ../hub-store.ts says what each method promises). The fleet view writes
// them in its batched flush; they go with their node (node-table.ts).
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import { REPORT_HISTORY, reportSeries, type ReportKind } from "../../../protocol/reports.ts";
import type { ReportRecord, ReportWrites, StoredReport } from "../hub-store.ts";
import { storedReportOf, type ReportRow } from "../rows/report-rows.ts";

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteReportTable implements ReportWrites {
  private readonly insert;
  private readonly trim;
  private readonly selectKind;
  private readonly selectSeries;

  constructor(db: SqliteDatabase) {
    // Only for a registered node: a report queued before the node's removal committed must not outlive it.
    this.insert = db.prepare(
      `INSERT INTO node_reports (node_id, kind, series, report, received_at)
       SELECT $nodeId, $kind, $series, $report, $receivedAt WHERE EXISTS (SELECT 1 FROM nodes WHERE node_id = $nodeId)`,
    );
    // Everything at or below the first report past the ones kept (none past them: NULL, nothing deleted).
    this.trim = db.prepare(
      `DELETE FROM node_reports WHERE node_id = $nodeId AND kind = $kind AND series = $series AND seq <=
         (SELECT seq FROM node_reports WHERE node_id = $nodeId AND kind = $kind AND series = $series ORDER BY seq DESC LIMIT 1 OFFSET $kept)`,
    );
    this.selectKind = db.prepare(
      "SELECT seq, node_id, kind, report, received_at FROM node_reports WHERE node_id = ? AND kind = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
    );
    this.selectSeries = db.prepare(
      "SELECT seq, node_id, kind, report, received_at FROM node_reports WHERE node_id = ? AND kind = ? AND series = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
    );
  }

  async history(nodeId: string, kind: ReportKind, options: { limit: number; beforeSeq?: number; model?: string }): Promise<StoredReport[]> {
    const before = options.beforeSeq ?? Number.MAX_SAFE_INTEGER;
    const rows =
      kind === "models" && options.model !== undefined
        ? this.selectSeries.all<ReportRow>(nodeId, kind, options.model, before, options.limit)
        : this.selectKind.all<ReportRow>(nodeId, kind, before, options.limit);
    return rows.map(storedReportOf);
  }

  async add(reports: readonly ReportRecord[]): Promise<void> {
    const series = new Map<string, { nodeId: string; kind: ReportKind; series: string }>();
    for (const { nodeId, kind, report, receivedAt } of reports) {
      const one = { nodeId, kind, series: reportSeries(kind, report) };
      this.insert.run({ ...one, report: JSON.stringify(report), receivedAt });
      series.set(JSON.stringify([nodeId, kind, one.series]), one);
    }
    for (const one of series.values()) this.trim.run({ ...one, kept: REPORT_HISTORY[one.kind] });
  }
}
