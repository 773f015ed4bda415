#!/usr/bin/env node
// Runs every *.test.ts under the given folders (default: the whole repo) with Node's own test
// runner and tsx. Node 20's --test does not expand globs, so the file list is built here.
// Usage: node scripts/run-tests.mjs [folder ...] [-- extra node --test flags]
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
const argv = process.argv.slice(2);
const dashDash = argv.indexOf("--");
const roots = (dashDash === -1 ? argv : argv.slice(0, dashDash)).map((p) => resolve(p));
const extra = dashDash === -1 ? [] : argv.slice(dashDash + 1);
const SKIP = new Set(["node_modules", "dist", ".git", "gen", "results"]);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (name.endsWith(".test.ts")) out.push(full);
  }
  return out;
}

const searchRoots =
  roots.length > 0 ? roots : ["packages", "services", "test", "bench", "deploy"].map((d) => join(repoRoot, d));
const files = searchRoots.flatMap((r) => {
  try {
    return statSync(r).isDirectory() ? walk(r, []) : [r];
  } catch {
    return [];
  }
});
files.sort();
if (files.length === 0) {
  console.error("run-tests: no *.test.ts files found under", searchRoots.map((r) => relative(repoRoot, r)).join(", "));
  process.exit(1);
}

// Test files start real servers and child processes; two at a time keeps a 2-core machine busy
// without starving the processes under test.
const concurrency = process.env.TEST_CONCURRENCY ?? "2";
const args = [
  "--conditions=source",
  "--import",
  "tsx",
  "--test",
  `--test-concurrency=${concurrency}`,
  "--test-timeout=180000",
  ...extra,
  ...files.map((f) => relative(process.cwd(), f)),
];
const child = spawn(process.execPath, args, {
  stdio: "inherit",
  env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? "test" },
});
const forward = (sig) => () => child.kill(sig);
process.on("SIGINT", forward("SIGINT"));
process.on("SIGTERM", forward("SIGTERM"));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
