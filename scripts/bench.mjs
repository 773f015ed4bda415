#!/usr/bin/env node
// `npm run bench`: builds the workspaces (`npm run build`), so every service runs from the
// production bundle it ships, compiles the bench fixtures (bench/fixtures/*.ts) to JavaScript
// with esbuild, then runs the suite (bench/suite.ts through tsx: it only orchestrates).
// Results: bench/results/results.md, results.json and chart.svg (BENCH_OUT=<dir> elsewhere).
//
// BENCH_QUICK=1: a short smoke run (about a minute). BENCH_SKIP_BUILD=1: reuse the current build.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compileFixtures } from "./compile-fixtures.mjs";

const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));

if (process.env.BENCH_SKIP_BUILD !== "1") {
  console.error("bench: npm run build (services run from their production bundles)");
  const build = spawnSync("npm", ["run", "build"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
  if (build.status !== 0) {
    console.error(
      "bench: `npm run build` failed, so the suite would measure stale or missing code; fix the build first.",
    );
    process.exit(1);
  }
}
const fixturesDir = join(repoRoot, "bench", "results", "tmp", `fixtures-${process.pid}`);
await compileFixtures(fixturesDir);
const suite = spawnSync(
  process.execPath,
  ["--conditions=source", "--import", "tsx", join(repoRoot, "bench", "suite.ts")],
  { cwd: repoRoot, stdio: "inherit", env: { ...process.env, BENCH_FIXTURES_DIR: fixturesDir } },
);
await import("node:fs").then((fs) => fs.rmSync(fixturesDir, { recursive: true, force: true }));
process.exit(suite.status ?? 1);
