// Audit search: by subject, actor and time range, newest first, paged.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { AdminApi, AuditItem, Page } from "../api";
import { Field, Pager, Problem, TextInput, useLatest } from "../ui";
import { fromLocalInput, showTime } from "../words";

const PAGE_SIZE = 50;

interface Filter {
  subject: string;
  actor: string;
  since: string;
  until: string;
}

export function Audit({ api, subject }: { api: AdminApi; subject: string }) {
  const [draft, setDraft] = useState<Filter>({ subject, actor: "", since: "", until: "" });
  const [filter, setFilter] = useState<Filter>(draft);
  const [pages, setPages] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<Page<AuditItem> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const cursor = pages[pages.length - 1];

  // The subject the filter was last set from: the state starts with it, so
  // the first run of the effect below must not reset what was typed since.
  const asked = useRef(subject);
  useEffect(() => {
    if (asked.current === subject) return;
    asked.current = subject;
    // Another panel asked for a subject's audit.
    const next = { subject, actor: "", since: "", until: "" };
    setDraft(next);
    setFilter(next);
    setPages([undefined]);
  }, [subject]);

  const latest = useLatest();

  const load = useCallback(async () => {
    const mark = latest.mark();
    try {
      const answer = await api.audit({
        subject: filter.subject.trim() || undefined,
        actor: filter.actor.trim() || undefined,
        since: fromLocalInput(filter.since),
        until: fromLocalInput(filter.until),
        limit: PAGE_SIZE,
        cursor,
      });
      if (!latest.current(mark)) return;
      setPage(answer);
      setError(null);
    } catch (err) {
      if (latest.current(mark)) setError(err);
    }
  }, [api, filter, cursor]);

  useEffect(() => {
    void load();
  }, [load]);

  const set = (key: keyof Filter) => (value: string) => setDraft({ ...draft, [key]: value });

  return (
    <section class="panel" data-testid="audit-panel" aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <form
        class="form row"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter(draft);
          setPages([undefined]);
          if (JSON.stringify(draft) === JSON.stringify(filter) && pages.length === 1) void load();
        }}
      >
        <Field label="Subject (user, message, file, room or report id)">
          <TextInput testid="audit-subject" maxLength={128} value={draft.subject} onValue={set("subject")} />
        </Field>
        <Field label="Actor (user id or system:…)">
          <TextInput testid="audit-actor" maxLength={128} value={draft.actor} onValue={set("actor")} />
        </Field>
        <Field label="Since (UTC)">
          <TextInput type="datetime-local" step="1" testid="audit-since" value={draft.since} onValue={set("since")} />
        </Field>
        <Field label="Until (UTC)">
          <TextInput type="datetime-local" step="1" testid="audit-until" value={draft.until} onValue={set("until")} />
        </Field>
        <button type="submit" data-testid="audit-search">
          Search
        </button>
      </form>
      <Problem error={error} />
      {page && page.items.length === 0 && (
        <p class="empty" data-testid="audit-empty">
          No entries.
        </p>
      )}
      {page && page.items.length > 0 && (
        <table class="grid" data-testid="audit-table">
          <thead>
            <tr>
              <th>At</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Subject</th>
              <th>Room</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((item, index) => (
              <tr key={`${item.at}-${index}`} data-testid="audit-entry" data-action={item.action} data-subject={item.subject}>
                <td>{showTime(item.at)}</td>
                <td>
                  <code>{item.actor_id}</code>
                </td>
                <td data-testid="audit-action">{item.action}</td>
                <td>
                  <code>{item.subject}</code>
                </td>
                <td>{item.room_id ? <code>{item.room_id}</code> : ""}</td>
                <td>
                  <code class="details">{JSON.stringify(item.details)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page && <Pager testid="audit" pages={pages} next={page.next} onPage={setPages} />}
    </section>
  );
}
