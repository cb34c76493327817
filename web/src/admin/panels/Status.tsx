// Projection lag and stream health (GET /v1/admin/status), re-read every
// few seconds while the panel is shown.

import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError, type AdminApi, type InstanceStatus } from "../api";
import { Problem } from "../ui";
import { bytesLabel, showTime } from "../words";

const REFRESH_MS = 5000;

const show = (value: number | null | undefined) => (value === null || value === undefined ? "?" : String(value));

export function Status({ api }: { api: AdminApi }) {
  const [status, setStatus] = useState<InstanceStatus | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      setStatus(await api.status());
      setError(null);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 404
          ? "This server has no GET /v1/admin/status (an older version): see /metrics instead."
          : err,
      );
    }
  }, [api]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  return (
    <section class="panel" data-testid="status-panel" aria-labelledby="status-title">
      <h2 id="status-title">Projection lag and stream health</h2>
      <div class="toolbar">
        <button type="button" data-testid="status-refresh" onClick={() => void load()}>
          Refresh
        </button>
        {status && <span class="muted">read {showTime(status.at)}, every {REFRESH_MS / 1000} s</span>}
      </div>
      <Problem error={error} />
      {status && (
        <>
          <p class={`overall overall-${status.status}`} data-testid="status-overall" data-status={status.status}>
            {status.status === "ok" ? "All dependencies up, nothing stalled." : "Degraded: see below."}
          </p>
          <h3>Dependencies</h3>
          <ul class="dependencies" data-testid="status-dependencies">
            {status.dependencies.map((d) => (
              <li key={d.name} class={d.up ? "up" : "down"} data-testid="status-dependency" data-name={d.name} data-up={String(d.up)}>
                {d.name}: {d.up ? "up" : `down (${d.error ?? "?"})`}
              </li>
            ))}
          </ul>
          {Object.keys(status.stalled).length > 0 && (
            <>
              <h3>Stalled</h3>
              <ul data-testid="status-stalled">
                {Object.entries(status.stalled).map(([name, why]) => (
                  <li key={name} class="down">
                    {name}: {why}
                  </li>
                ))}
              </ul>
            </>
          )}
          <h3>Relay (event store to CHAT_EVENTS)</h3>
          <p data-testid="status-relay">
            {status.relay.pending_events} events committed after the relay's saved cursor{" "}
            <code>{status.relay.cursor ?? "none"}</code> (saved about once a second while it moves; last{" "}
            {showTime(status.relay.saved_at)}).
          </p>
          <h3>Projections</h3>
          <table class="grid" data-testid="status-projections">
            <thead>
              <tr>
                <th>Projection</th>
                <th>Lag (events)</th>
                <th>Consumer pending</th>
                <th>Offset</th>
                <th>Behind stream end</th>
                <th>Redelivered</th>
                <th>Applied</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {status.projections.map((p) => (
                <tr
                  key={p.name}
                  class={p.lag_events ? "lagging" : ""}
                  data-testid="status-projection"
                  data-name={p.name}
                  data-lag={show(p.lag_events)}
                  title={p.error ?? ""}
                >
                  <td>{p.name}</td>
                  <td data-testid="status-projection-lag">{show(p.lag_events)}</td>
                  <td>{show(p.pending_events)}</td>
                  <td>{p.stream_seq}</td>
                  <td>{show(p.behind_stream)}</td>
                  <td>{show(p.redelivered)}</td>
                  <td>{p.applied_events}</td>
                  <td>{showTime(p.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>JetStream streams</h3>
          <table class="grid" data-testid="status-streams">
            <thead>
              <tr>
                <th>Stream</th>
                <th>Messages</th>
                <th>Size</th>
                <th>Sequences</th>
                <th>Last stored</th>
                <th>Consumers</th>
              </tr>
            </thead>
            <tbody>
              {status.streams.map((s) => (
                <tr key={s.name} data-testid="status-stream" data-name={s.name} class={s.error ? "down" : ""}>
                  <td>{s.name}</td>
                  {s.error ? (
                    <td colSpan={5}>unreadable: {s.error}</td>
                  ) : (
                    <>
                      <td>{show(s.messages)}</td>
                      <td>{bytesLabel(s.bytes)}</td>
                      <td>
                        {show(s.first_seq)} to {show(s.last_seq)}
                      </td>
                      <td>{showTime(s.last_at)}</td>
                      <td>{show(s.consumers)}</td>
                    </>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
