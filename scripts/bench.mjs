#!/usr/bin/env node
// `npm run bench`: builds the workspaces (`npm run build`) so every service runs from its
// compiled dist/ as in production, compiles the bench fixtures (servers and load generators) to
// plain JavaScript with esbuild, then runs the benchmark suite (bench/suite.ts, through tsx: it
// only orchestrates) and any other top-level bench/*.ts benchmark, each in its own process.
// Results: bench/results/ (results.md, results.json, *.svg; other benchmarks' output as <name>.txt).
//
// Usage: node scripts/bench.mjs [name ...]   e.g. `npm run bench -- codec` or `npm run bench -- suite`
// Environment: BENCH_QUICK=1 for a ~1 minute smoke run; BENCH_SKIP_BUILD=1 to reuse an existing
// build (the suite still refuses stale or missing dist/ output); BENCH_RUNTIME=source to measure
// the TypeScript sources through tsx instead (development only, not comparable).
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compileFixtures } from "./compile-fixtures.mjs";

const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
const benchDir = join(repoRoot, "bench");
const resultsDir = join(benchDir, "results");
const wanted = process.argv.slice(2);

// suite.ts runs codec.ts itself; profile.ts is an on-demand tool (`npm run bench -- profile`).
const ON_DEMAND = new Set(["codec", "profile"]);
const all = readdirSync(benchDir)
  .filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts"))
  .map((name) => name.slice(0, -3))
  .sort((a, b) => (a === "suite" ? -1 : b === "suite" ? 1 : a.localeCompare(b)));
const names = wanted.length > 0 ? wanted : all.filter((name) => !ON_DEMAND.has(name));
const unknown = names.filter((name) => !all.includes(name));
if (unknown.length > 0) {
  console.error(`bench: no bench/${unknown[0]}.ts; choose from: ${all.join(", ")}`);
  process.exit(2);
}

mkdirSync(resultsDir, { recursive: true });

if (process.env.BENCH_RUNTIME !== "source") {
  if (process.env.BENCH_SKIP_BUILD !== "1") {
    console.error("bench: npm run build (services must run from dist/, as in production)");
    const build = spawnSync("npm", ["run", "build"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
    if (build.status !== 0) {
      console.error(
        "bench: `npm run build` failed, so the benchmarks would measure stale or missing code; fix the build (or set BENCH_RUNTIME=source for an unrepresentative tsx run) and retry.",
      );
      process.exit(1);
    }
    // Just built: tsc's incremental build leaves unchanged outputs with old mtimes, so the
    // suite's own "dist/ newer than src/" check would be wrong here.
    process.env.BENCH_RUNTIME = "dist";
  }
  const fixturesOut = join(resultsDir, "tmp", "fixtures-dist");
  await compileFixtures(fixturesOut);
  process.env.BENCH_FIXTURES_DIR = fixturesOut;
}

let failed = 0;
for (const name of names) {
  const file = join(benchDir, `${name}.ts`);
  console.error(`bench: running bench/${name}.ts`);
  const args = ["--conditions=source", "--import", "tsx", file];
  if (name === "suite" || name === "profile") {
    // These write their own results (results.md/json, profile.md) and print a summary.
    const run = spawnSync(process.execPath, args, { cwd: repoRoot, stdio: "inherit" });
    if (run.status !== 0) failed++;
    continue;
  }
  const run = spawnSync(process.execPath, args, {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  process.stdout.write(run.stdout ?? "");
  writeFileSync(join(resultsDir, `${name}.txt`), run.stdout ?? "");
  if (run.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
