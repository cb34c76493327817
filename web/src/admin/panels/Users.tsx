// Suspensions (with an end time or until lifted, and a reason) and instance
// role changes of one user, by id.

import { useState } from "preact/hooks";
import type { AdminApi } from "../api";
import { Choice, Field, Notice, Problem, TextInput } from "../ui";
import { fromLocalInput, isUuid } from "../words";

export function Users({ api }: { api: AdminApi }) {
  const [userId, setUserId] = useState("");
  const [reason, setReason] = useState("");
  const [until, setUntil] = useState("");
  const [role, setRole] = useState<"admin" | "user">("user");
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const run = async (what: () => Promise<string>) => {
    const id = userId.trim();
    if (!isUuid(id)) {
      setNotice(null);
      setError(`"${id}" is not a user id (a UUID)`);
      return;
    }
    try {
      setNotice(await what());
      setError(null);
    } catch (err) {
      setNotice(null);
      setError(err);
    }
  };

  const id = () => userId.trim();
  const suspend = () =>
    run(async () => {
      const end = fromLocalInput(until);
      await api.suspend(id(), reason, end);
      return end ? `Suspended ${id()} until ${end}` : `Suspended ${id()} until lifted`;
    });
  const lift = () =>
    run(async () => {
      await api.liftSuspension(id());
      return `Suspension of ${id()} lifted`;
    });
  const changeRole = () =>
    run(async () => {
      const user = await api.setRole(id(), role);
      return `${user.display_name} (${user.id}) is now ${user.role === "admin" ? "an instance admin" : "a user"}`;
    });

  return (
    <section class="panel" data-testid="users-panel" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <form class="form" onSubmit={(e) => e.preventDefault()}>
        <Field label="User id">
          <TextInput
            testid="user-id"
            value={userId}
            onValue={setUserId}
          />
        </Field>
        <fieldset>
          <legend>Suspension</legend>
          <Field label="Reason">
            <TextInput
              testid="suspend-reason"
              maxLength={1000}
              value={reason}
              onValue={setReason}
            />
          </Field>
          <Field label="Until (UTC; empty: until lifted)">
            <TextInput
              type="datetime-local"
              testid="suspend-until"
              value={until}
              onValue={setUntil}
            />
          </Field>
          <button type="button" class="danger" data-testid="suspend-submit" onClick={() => void suspend()}>
            Suspend
          </button>
          <button type="button" data-testid="suspend-lift" onClick={() => void lift()}>
            Lift suspension
          </button>
        </fieldset>
        <fieldset>
          <legend>Instance role</legend>
          <Field label="Role">
            <Choice<"admin" | "user"> testid="role-select" value={role} options={["user", "admin"] as const} onValue={setRole} />
          </Field>
          <button type="button" data-testid="role-submit" onClick={() => void changeRole()}>
            Set role
          </button>
        </fieldset>
      </form>
      <Notice text={notice} />
      <Problem error={error} />
    </section>
  );
}
