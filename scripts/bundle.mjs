#!/usr/bin/env node
// Bundles a service's compiled entry point (dist/main.js) and everything it imports into one ESM
// file, dist/main.bundle.js, which is what production runs (images, `npm start`, the benchmarks).
// Why: on start-up Node spent most of its time finding, reading and linking ~400 small module
// files (ESM and CommonJS); one file parsed once takes the Marketplace from about 510 ms to about
// 300 ms to ready on the bench machine (see docs/performance.md, "Start-up").
//
//   node scripts/bundle.mjs services/<name>     (each service's `build` script runs it after tsc)
//
// The bundle includes packages/kit and packages/protos as built: after rebuilding only a package,
// rebuild the service too (`npm run build` does everything in order).
//
// What stays outside the bundle, resolved at run time from node_modules as before:
// - modules loaded through `createRequire(import.meta.url)` (lazy optional features: pino-pretty,
//   the OpenTelemetry SDK, reflection) and Node's built-ins;
// - the packages listed in EXTERNAL below.
// Files that locate things next to themselves (the descriptor set, the dashboard's assets,
// books.json, pino's worker) keep doing so: see keepFileLocations.
// The source map maps to the TypeScript sources (esbuild follows tsc's maps) without embedding
// their text: `--enable-source-maps` parses it at start-up, and a smaller map costs less there.
import { readFile } from "node:fs/promises";
import { dirname, relative, resolve, sep } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));

/**
 * Left to Node to load from node_modules when (if ever) asked for: optional features that are
 * imported dynamically only when configured (JWT checks, the OTLP exporter), and
 * @grpc/proto-loader (protobufjs), which grpc-js requires only for channelz/xds and the kit only
 * for reflection. Bundled, they would only add parse and source-map work to every start-up.
 */
const EXTERNAL = [
  "jose",
  "@opentelemetry/exporter-trace-otlp-proto",
  "@grpc/proto-loader",
  // A native addon (Accounts' password hashing): its loader picks a platform-specific .node file
  // at run time, which esbuild cannot bundle. The runtime image installs node_modules.
  "@node-rs/argon2",
];

const serviceDir = process.argv[2];
if (serviceDir === undefined) {
  process.stderr.write("usage: node scripts/bundle.mjs services/<name>\n");
  process.exit(2);
}
const entry = resolve(serviceDir, "dist", "main.js");
const outfile = resolve(serviceDir, "dist", "main.bundle.js");
const outDir = dirname(outfile);

/**
 * Keeps bundled files' view of where they are: `import.meta.url` (ES modules) and `__dirname` /
 * `__filename` (CommonJS, e.g. pino's and grpc-js's paths to their own worker and .proto files)
 * become the file's original location, computed from the bundle's own location at run time.
 */
const keepFileLocations = {
  name: "keep-file-locations",
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: /\.[cm]?js$/ }, async (args) => {
      let contents = await readFile(args.path, "utf8");
      const usesUrl = contents.includes("import.meta.url");
      const usesDirname = /\b__(dirname|filename)\b/.test(contents);
      if (!usesUrl && !usesDirname) return undefined;
      const fromBundle = JSON.stringify(relative(outDir, args.path).split(sep).join("/"));
      if (usesUrl) {
        contents = contents.replaceAll("import.meta.url", `new URL(${fromBundle}, import.meta.url).href`);
      }
      if (usesDirname) {
        // CommonJS files are wrapped in a function by the bundler, so these stay local to the file.
        // After a leading "use strict" directive, so the file stays in strict mode.
        const directive = /^(?:\s|\/\/[^\n]*\n|\/\*[\s\S]*?\*\/)*(["'])use strict\1;?/.exec(contents)?.[0] ?? "";
        const locals = `var __filename = __bundlePath.join(__bundleDirname, ${fromBundle}), __dirname = __bundlePath.dirname(__filename);`;
        contents = `${directive}\n${locals}\n${contents.slice(directive.length)}`;
      }
      return { contents, loader: "js", resolveDir: dirname(args.path) };
    });
  },
};

await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  sourcesContent: false,
  external: EXTERNAL,
  // CommonJS dependencies bundled into an ES module still call require() for Node's built-ins.
  banner: {
    js: [
      'import { createRequire as __bundleCreateRequire } from "node:module";',
      'import * as __bundlePath from "node:path";',
      'import { fileURLToPath as __bundleFileURLToPath } from "node:url";',
      "const require = __bundleCreateRequire(import.meta.url);",
      "const __bundleDirname = __bundlePath.dirname(__bundleFileURLToPath(import.meta.url));",
    ].join("\n"),
  },
  plugins: [keepFileLocations],
  logLevel: "warning",
  legalComments: "linked",
});
process.stdout.write(`bundled ${relative(repoRoot, outfile)}\n`);
