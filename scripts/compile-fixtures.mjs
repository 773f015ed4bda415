// Compiles the bench fixtures (bench/fixtures/*.ts: the peer and control servers, the open-loop
// generator) to plain ESM JavaScript, one file each, with workspace and npm packages left as
// imports so they resolve to the built dist/ as a service's do. Used by scripts/bench.mjs.
import { readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const fixturesDir = resolve(fileURLToPath(new URL("../bench/fixtures", import.meta.url)));

/**
 * Compiles every bench fixture into `outDir` (emptied first) as `<name>.mjs`.
 * @param {string} outDir
 * @returns {Promise<void>}
 */
export async function compileFixtures(outDir) {
  rmSync(outDir, { recursive: true, force: true });
  const { build } = await import("esbuild");
  await build({
    entryPoints: readdirSync(fixturesDir)
      .filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts"))
      .map((name) => join(fixturesDir, name)),
    outdir: outDir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node26",
    sourcemap: "linked",
    logLevel: "warning",
  });
}
