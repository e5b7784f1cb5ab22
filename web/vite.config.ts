// The console's build: one entry (index.html), hashed file names under
// assets/, no inline scripts (the server's CSP forbids them), no source maps
// in the binary.  The output directory is given by the build
// (ORDERLY_WEB_OUT, set by CMake), so the source tree stays clean.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: process.env.ORDERLY_WEB_OUT || "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    target: "es2022",
    reportCompressedSize: false,
  },
});
