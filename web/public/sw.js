// CipherTalk's service worker: shows a notification for a Web Push. A push
// carries no content and no sender ({room_id, count, first_seq} at most), so
// neither does the notification; a click opens that room.
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = {};
  }
  const count = typeof data.count === "number" ? data.count : 1;
  const title = count > 1 ? `${count} new messages` : "New message";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: "Open CipherTalk to read it.",
      tag: typeof data.room_id === "string" ? data.room_id : "ciphertalk",
      data: { room_id: data.room_id },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const roomId = event.notification.data && event.notification.data.room_id;
  const url = roomId ? `/#/rooms/${roomId}` : "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((windows) => {
      for (const client of windows) {
        if ("focus" in client) {
          client.navigate(url);
          return client.focus();
        }
      }
      return self.clients.openWindow(url);
    }),
  );
});
