import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vitest/config";

// Built into the Python package (api/web/ui_dist), which the API serves at /ui and the
// wheel carries; in development `vite` proxies the API of a local `lanner server local`.
export default defineConfig({
  base: "/ui/",
  plugins: [vue()],
  build: {
    // Relative to this folder (Vite's root).
    outDir: "../api/web/ui_dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: { proxy: { "/api": "http://127.0.0.1:8080" } },
  test: { environment: "jsdom", include: ["tests/**/*.spec.ts"] },
});
