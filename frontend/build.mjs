// Bundles the browser sources into hitrack/web/static/dist/ under fixed file
// names (graph.js, earnings.js, app.js, app.css), so templates can point at
// them with url_for('static', filename='dist/...') and need no manifest.
// `node build.mjs --watch` rebuilds on every change.
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "hitrack", "web", "static", "dist");

const options = {
  absWorkingDir: here,
  entryPoints: ["src/graph.js", "src/earnings.js", "src/app.js", "src/app.css"],
  outdir,
  entryNames: "[name]",
  bundle: true,
  format: "iife",
  target: ["es2019"],
  minify: true,
  sourcemap: true,
  // Keep third-party licence headers in a separate .LEGAL.txt next to each bundle.
  legalComments: "linked",
  logLevel: "info",
};

await mkdir(outdir, { recursive: true });

if (process.argv.includes("--watch")) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
