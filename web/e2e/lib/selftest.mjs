// The harness's own check (tests/browser.rs): a page of the instance calls the
// API from the browser and sends a message and a file chunk, either sealed
// with WebCrypto AES-GCM (CIPHERTALK_SELFTEST_MODE=sealed) or merely
// base64-encoded as a careless client would (=leaky), and records what it
// sent, for the plaintext check to pass or to catch.

import { writeFileSync } from "node:fs";

import { check, scenario } from "./run.mjs";

const mode = process.env.CIPHERTALK_SELFTEST_MODE;
check(mode === "sealed" || mode === "leaky", `CIPHERTALK_SELFTEST_MODE is ${mode}`);

scenario(`selftest-${mode}`, async (run) => {
  const device = await run.open("alice");
  await device.page.goto("/");
  const text = run.sent.text(`the harness's own secret, ${mode} from a browser`);
  run.sent.file("chunk.bin");
  const bytes = new Uint8Array(2048).map((_, i) => (i * 2654435761) >>> 13);
  writeFileSync(`${run.artifacts}/chunk.bin`, bytes);

  const result = await run.step("send a message and a file chunk from the page", () =>
    device.page.evaluate(
      async ({ text, bytes, sealed }) => {
        const b64 = (data) => btoa(String.fromCharCode(...new Uint8Array(data)));
        const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt"]);
        const seal = async (data) =>
          sealed ? crypto.subtle.encrypt({ name: "AES-GCM", iv: crypto.getRandomValues(new Uint8Array(12)) }, key, data) : data;
        const call = async (method, path, body, token) => {
          const response = await fetch(path, {
            method,
            headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
            body: JSON.stringify(body),
          });
          const answer = await response.json().catch(() => null);
          if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
          return answer;
        };
        const email = `alice-${crypto.randomUUID()}@selftest.example`;
        const session = await call("POST", "/v1/auth/register", {
          email,
          password: "correct horse battery",
          display_name: "Alice",
        });
        const token = session.access_token;
        const room = await call("POST", "/v1/rooms", { kind: "group", name: "selftest", members: [] }, token);
        await call(
          "POST",
          `/v1/rooms/${room.id}/messages`,
          { client_msg_id: crypto.randomUUID(), ciphertext: b64(await seal(new TextEncoder().encode(text))) },
          token,
        );
        const chunk = new Uint8Array(await seal(new Uint8Array(bytes)));
        const registered = await call(
          "POST",
          "/v1/files",
          {
            room_id: room.id,
            size: chunk.length,
            chunk_size: chunk.length,
            chunk_count: 1,
            content_type: "application/octet-stream",
            wrapped_keys: { [session.user.id]: b64(new Uint8Array(32)) },
          },
          token,
        );
        const put = await fetch(registered.chunks[0].upload_url, { method: "PUT", body: chunk });
        if (!put.ok) throw new Error(`chunk upload: ${put.status} ${await put.text()}`);
        return { room: room.id, file: registered.file_id };
      },
      { text, bytes: Array.from(bytes), sealed: mode === "sealed" },
    ),
  );
  check(result.room && result.file, `nothing sent: ${JSON.stringify(result)}`);
});
