// The report queue: open, dismissed or actioned reports, newest first, with
// their evidence and franking verdict; open ones are dismissed or taken down
// with a note.

import { useCallback, useEffect, useState } from "preact/hooks";
import type { AdminApi, Page, Report, ReportStatus } from "../api";
import { Choice, Field, Notice, Pager, Problem, TextInput, useLatest } from "../ui";
import { describeTarget, showTime, verdictOf } from "../words";

const PAGE_SIZE = 20;
const STATUSES: readonly ReportStatus[] = ["open", "dismissed", "actioned"];

export interface ReportsProps {
  api: AdminApi;
  /** Bumped when a `report.created` arrives, so the queue reloads. */
  fresh: number;
  onAudit(subject: string): void;
  onRoom(roomId: string): void;
}

export function Reports({ api, fresh, onAudit, onRoom }: ReportsProps) {
  const [status, setStatus] = useState<ReportStatus>("open");
  const [pages, setPages] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<Page<Report> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const cursor = pages[pages.length - 1];
  const latest = useLatest();

  const load = useCallback(async () => {
    const mark = latest.mark();
    try {
      const answer = await api.reports({ status, limit: PAGE_SIZE, cursor });
      if (!latest.current(mark)) return;
      setPage(answer);
      setError(null);
    } catch (err) {
      if (latest.current(mark)) setError(err);
    }
  }, [api, status, cursor]);

  useEffect(() => {
    void load();
  }, [load, fresh]);

  const resolve = async (report: Report, action: "dismiss" | "takedown", note: string) => {
    try {
      await api.resolve(report.id, action, note.trim() || undefined);
      setNotice(action === "takedown" ? `Taken down: ${describeTarget(report.target)}` : "Report dismissed");
      setError(null);
      await load();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section class="panel" data-testid="reports-panel" aria-labelledby="reports-title">
      <h2 id="reports-title">Report queue</h2>
      <div class="toolbar">
        <label class="field inline">
          <span>Status</span>
          <Choice
            testid="report-status-filter"
            value={status}
            options={STATUSES}
            onValue={(value) => {
              setStatus(value);
              setPages([undefined]);
            }}
          />
        </label>
        <button type="button" data-testid="reports-refresh" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <Notice text={notice} />
      <Problem error={error} />
      {page && page.items.length === 0 && (
        <p class="empty" data-testid="reports-empty">
          No {status} reports.
        </p>
      )}
      <ul class="reports" data-testid="reports">
        {page?.items.map((report) => (
          <ReportCard key={report.id} report={report} onResolve={resolve} onAudit={onAudit} onRoom={onRoom} />
        ))}
      </ul>
      {page && <Pager testid="reports" pages={pages} next={page.next} onPage={setPages} />}
    </section>
  );
}

function ReportCard(props: {
  report: Report;
  onResolve(report: Report, action: "dismiss" | "takedown", note: string): Promise<void>;
  onAudit(subject: string): void;
  onRoom(roomId: string): void;
}) {
  const { report, onResolve, onAudit, onRoom } = props;
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const verdict = verdictOf(report);
  const act = async (action: "dismiss" | "takedown") => {
    setBusy(true);
    try {
      await onResolve(report, action, note);
    } finally {
      setBusy(false);
    }
  };
  const canTakeDown = report.target.kind !== "user";
  return (
    <li class={`report status-${report.status}`} data-testid="report" data-report-id={report.id}>
      <dl class="facts">
        <dt>Target</dt>
        <dd data-testid="report-target">
          <span class="kind">{report.target.kind}</span> <code>{report.target.id}</code>
          {report.target.room_id && (
            <>
              {" in room "}
              <code>{report.target.room_id}</code>
            </>
          )}
        </dd>
        <dt>Reason</dt>
        <dd data-testid="report-reason">{report.reason}</dd>
        <dt>Evidence</dt>
        <dd data-testid="report-evidence">
          {report.evidence ? <pre class="evidence">{report.evidence}</pre> : <span class="muted">none given</span>}
        </dd>
        <dt>Reporter</dt>
        <dd data-testid="report-reporter">
          <code>{report.reporter_id}</code>
        </dd>
        <dt>Filed</dt>
        <dd data-testid="report-created-at">{showTime(report.created_at)}</dd>
        <dt>Franking</dt>
        <dd>
          <span class={`verdict verdict-${verdict.kind}`} data-testid="report-verdict" data-verdict={verdict.kind}>
            {verdict.label}
          </span>{" "}
          <span class="explanation" data-testid="report-verdict-explanation">
            {verdict.explanation}
          </span>
        </dd>
        <dt>Status</dt>
        <dd data-testid="report-status">
          {report.status}
          {report.resolved_at && ` at ${showTime(report.resolved_at)}`}
          {report.resolved_by && (
            <>
              {" by "}
              <code>{report.resolved_by}</code>
            </>
          )}
          {report.note && <> : {report.note}</>}
        </dd>
      </dl>
      <div class="actions">
        <button type="button" class="link" data-testid="report-audit" onClick={() => onAudit(report.target.id)}>
          Audit of the target
        </button>
        {report.target.room_id && (
          <button
            type="button"
            class="link"
            data-testid="report-room"
            onClick={() => onRoom(report.target.room_id ?? "")}
          >
            Room state
          </button>
        )}
      </div>
      {report.status === "open" && (
        <form class="resolve" onSubmit={(e) => e.preventDefault()}>
          <Field label="Note (optional, kept in the audit log)">
            <TextInput testid="report-note" maxLength={1000} value={note} onValue={setNote} />
          </Field>
          <button type="button" data-testid="report-dismiss" disabled={busy} onClick={() => void act("dismiss")}>
            Dismiss
          </button>
          <button
            type="button"
            class="danger"
            data-testid="report-takedown"
            disabled={busy || !canTakeDown}
            title={canTakeDown ? "Remove the content for everyone" : "A user cannot be taken down: suspend them"}
            onClick={() => void act("takedown")}
          >
            Take down
          </button>
        </form>
      )}
    </li>
  );
}
