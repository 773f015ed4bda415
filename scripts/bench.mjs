#!/usr/bin/env node
// `npm run bench`: runs the benchmark suite (bench/suite.ts) with tsx and the `source` export
// condition, then any other top-level bench/*.ts benchmark, each in its own process.
// Results: bench/results/ (results.md, results.json, *.svg; other benchmarks' output as <name>.txt).
//
// Usage: node scripts/bench.mjs [name ...]   e.g. `npm run bench -- codec` or `npm run bench -- suite`
// Environment: BENCH_QUICK=1 for a ~1 minute smoke run; BENCH_RUNTIME=dist|source to force how
// the services run (default: the compiled dist/ when it is newer than the sources).
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

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
