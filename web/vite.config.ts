import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

// Two pages: the chat app at / and the instance admin's page at /admin.html.
// Everything is emitted as files (no inline script), so the gateway's content
// security policy can forbid inline script.
// `npm run dev` proxies the API (REST and the WebSocket) to a local server;
// CIPHERTALK_DEV_API overrides where.
const devApi = process.env["CIPHERTALK_DEV_API"] ?? "http://127.0.0.1:18080";

export default defineConfig({
  server: {
    proxy: {
      "/v1": { target: devApi, ws: true, changeOrigin: false },
      "/health": { target: devApi },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: {
        app: resolve(import.meta.dirname, "index.html"),
        admin: resolve(import.meta.dirname, "admin.html"),
      },
    },
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
