#!/usr/bin/env node
// Runs every *.test.ts under the given folders (default: the whole repo) with Node's own test
// runner and tsx. The file list is built here, so the same skip list applies everywhere.
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
// without starving the processes under test. The multi-host system tests run several services
// and a load generator each, with latency budgets, so they run afterwards, one at a time, on an
// otherwise idle machine.
const concurrency = process.env.TEST_CONCURRENCY ?? "2";
const isolated = (file) => /(^|[/\\])multi-host[^/\\]*\.test\.ts$/.test(file);
const phases = [
  { files: files.filter((f) => !isolated(f)), concurrency },
  { files: files.filter(isolated), concurrency: "1" },
].filter((phase) => phase.files.length > 0);

/** Runs one `node --test` over `phase.files`, echoing its output; resolves with its exit code and counts. */
function runPhase(phase) {
  const args = [
    "--conditions=source",
    "--import",
    "tsx",
    "--test",
    `--test-concurrency=${phase.concurrency}`,
    "--test-timeout=180000",
    ...extra,
    ...phase.files.map((f) => relative(process.cwd(), f)),
  ];
  return new Promise((resolvePhase) => {
    const child = spawn(process.execPath, args, {
      stdio: ["inherit", "pipe", "inherit"],
      env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? "test" },
    });
    const counts = { pass: 0, fail: 0, skipped: 0 };
    let pending = "";
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const match = /^(?:# |ℹ )(pass|fail|skipped) (\d+)$/.exec(line);
        if (match) counts[match[1]] = Number(match[2]);
      }
    });
    const forward = (sig) => () => child.kill(sig);
    process.on("SIGINT", forward("SIGINT"));
    process.on("SIGTERM", forward("SIGTERM"));
    child.on("exit", (code, signal) => resolvePhase({ code: code ?? (signal ? 1 : 0), counts }));
  });
}

let exitCode = 0;
const total = { pass: 0, fail: 0, skipped: 0 };
for (const phase of phases) {
  const { code, counts } = await runPhase(phase);
  if (code !== 0) exitCode = code;
  for (const key of Object.keys(total)) total[key] += counts[key];
}
// One closing line for the whole run (each phase printed its own summary above).
console.log(`Total: ${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped`);
process.exit(exitCode);
