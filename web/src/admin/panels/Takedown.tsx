// Direct takedown of a message or file by id, without a report.

import { useState } from "preact/hooks";
import type { AdminApi } from "../api";
import { Choice, Field, Notice, Problem, TextInput } from "../ui";
import { isUuid } from "../words";

export function Takedown({ api }: { api: AdminApi }) {
  const [kind, setKind] = useState<"message" | "file">("message");
  const [id, setId] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    const target = id.trim();
    if (!isUuid(target)) {
      setError(`"${target}" is not an id (a UUID)`);
      return;
    }
    try {
      if (kind === "message") await api.takeDownMessage(target);
      else await api.takeDownFile(target);
      setNotice(`Taken down: ${kind} ${target}`);
      setError(null);
      setId("");
    } catch (err) {
      setNotice(null);
      setError(err);
    }
  };

  return (
    <section class="panel" data-testid="takedown-panel" aria-labelledby="takedown-title">
      <h2 id="takedown-title">Take down by id</h2>
      <p class="hint">Removes a message (a tombstone for every member) or a file (its blobs deleted) at once.</p>
      <form class="form" onSubmit={(e) => void submit(e)}>
        <Field label="Kind">
          <Choice<"message" | "file"> testid="takedown-kind" value={kind} options={["message", "file"] as const} onValue={setKind} />
        </Field>
        <Field label="Id">
          <TextInput
            testid="takedown-id"
            required
            value={id}
            onValue={setId}
          />
        </Field>
        <button type="submit" class="danger" data-testid="takedown-submit">
          Take down
        </button>
      </form>
      <Notice text={notice} />
      <Problem error={error} />
    </section>
  );
}
