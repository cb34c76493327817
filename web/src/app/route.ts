// Hash routes: #/rooms/<id>, #/new, #/contacts, #/settings.
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "home" }
  | { page: "room"; roomId: string }
  | { page: "new" }
  | { page: "contacts" }
  | { page: "settings" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/");
  switch (parts[0]) {
    case "rooms":
      return parts[1] ? { page: "room", roomId: parts[1] } : { page: "home" };
    case "new":
      return { page: "new" };
    case "contacts":
      return { page: "contacts" };
    case "settings":
      return { page: "settings" };
    default:
      return { page: "home" };
  }
}

export function go(path: string): void {
  location.hash = `#/${path}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(parseRoute(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}
