// Compiles bench fixtures (bare and kit servers, load generators) to plain ESM JavaScript, one
// file each, with workspace and npm packages left as imports so they resolve to the built dist/
// like a service does. Used by `npm run bench` (scripts/bench.mjs) and bench/tools/h2-compare.ts.
import { readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const fixturesDir = resolve(fileURLToPath(new URL("../bench/fixtures", import.meta.url)));

/**
 * Compiles `names` (fixture file names without `.ts`; default: every fixture) into `outDir`
 * (emptied first) as `<name>.mjs`.
 * @param {string} outDir
 * @param {readonly string[]} [names]
 * @returns {Promise<void>}
 */
export async function compileFixtures(outDir, names) {
  rmSync(outDir, { recursive: true, force: true });
  const entries =
    names ??
    readdirSync(fixturesDir)
      .filter((n) => n.endsWith(".ts") && !n.endsWith(".test.ts"))
      .map((n) => n.slice(0, -3));
  const { build } = await import("esbuild");
  await build({
    entryPoints: entries.map((name) => join(fixturesDir, `${name}.ts`)),
    outdir: outDir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    logLevel: "warning",
  });
}
