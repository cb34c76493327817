// A room's settings and members as they stood at a time, folded by the
// server from the room's event log.

import { useEffect, useState } from "preact/hooks";
import type { AdminApi, RoomState as State } from "../api";
import { Field, Problem, TextInput, useLatest } from "../ui";
import { fromLocalInput, isUuid, showTime } from "../words";

export function RoomState({ api, roomId }: { api: AdminApi; roomId: string }) {
  const [room, setRoom] = useState(roomId);
  const [at, setAt] = useState("");
  const [state, setState] = useState<State | null>(null);
  const [error, setError] = useState<unknown>(null);

  const latest = useLatest();

  const load = async (id: string, when: string) => {
    const mark = latest.mark();
    if (!isUuid(id)) {
      setError(`"${id}" is not a room id (a UUID)`);
      return;
    }
    try {
      const answer = await api.roomState(id.trim(), fromLocalInput(when));
      if (!latest.current(mark)) return;
      setState(answer);
      setError(null);
    } catch (err) {
      if (!latest.current(mark)) return;
      setState(null);
      setError(err);
    }
  };

  useEffect(() => {
    setRoom(roomId);
    if (roomId) void load(roomId, "");
  }, [roomId]);

  return (
    <section class="panel" data-testid="room-panel" aria-labelledby="room-title">
      <h2 id="room-title">Room state as of a time</h2>
      <form
        class="form row"
        onSubmit={(e) => {
          e.preventDefault();
          void load(room, at);
        }}
      >
        <Field label="Room id">
          <TextInput testid="room-id" value={room} onValue={setRoom} />
        </Field>
        <Field label="At (UTC; empty: now)">
          <TextInput
            type="datetime-local"
            step="1"
            testid="room-at"
            value={at}
            onValue={setAt}
          />
        </Field>
        <button type="submit" data-testid="room-load">
          Show
        </button>
      </form>
      <Problem error={error} />
      {state && (
        <div data-testid="room-state">
          <dl class="facts">
            <dt>As of</dt>
            <dd data-testid="room-state-at">{showTime(state.at)}</dd>
            <dt>Name</dt>
            <dd data-testid="room-name">{state.room.name ?? <span class="muted">none</span>}</dd>
            <dt>Kind</dt>
            <dd>{state.room.kind}</dd>
            <dt>Join rule</dt>
            <dd>{state.room.join_rule}</dd>
            <dt>Created</dt>
            <dd>{showTime(state.room.created_at)}</dd>
            <dt>Description</dt>
            <dd>{state.room.description ?? <span class="muted">none</span>}</dd>
          </dl>
          <table class="grid" data-testid="room-members">
            <thead>
              <tr>
                <th>Member</th>
                <th>Role</th>
                <th>Joined</th>
              </tr>
            </thead>
            <tbody>
              {state.members.map((member) => (
                <tr key={member.user_id} data-testid="room-member" data-user-id={member.user_id}>
                  <td>
                    <code>{member.user_id}</code>
                  </td>
                  <td>{member.role}</td>
                  <td>{showTime(member.joined_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {state.invited.length > 0 && (
            <p data-testid="room-invited">
              Invited, not joined: {state.invited.map((id) => <code key={id}>{id} </code>)}
            </p>
          )}
        </div>
      )}
    </section>
  );
}
