#!/usr/bin/env node
// Runs every *.test.ts under the given folders (default: the whole repo) with Node's own test
// runner and tsx. The file list is built here, so the same skip list applies everywhere.
// Usage: node scripts/run-tests.mjs [folder ...] [-- extra node --test flags]
//
// Data tests need a PostgreSQL (docs/data.md, "Tests"): TEST_DATABASE_URL, by default this
// machine's server at 127.0.0.1:5432. When TEST_DATABASE_URL is unset and nothing answers
// there, one embedded PostgreSQL 18 (scripts/embedded-postgres.mjs) is started for the whole
// run, in a temporary folder on a free port, and TEST_DATABASE_URL points the tests at it.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
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
// without starving the processes under test. The whole-system tests (the multi-host labs, every
// service under `npm start`, the checkout proofs across five services: no overselling, and the
// faults) run several services and a load each, with time budgets, so they run afterwards, one
// at a time, on an otherwise idle machine.
const concurrency = process.env.TEST_CONCURRENCY ?? "2";
const isolated = (file) => /(^|[/\\])(multi-host[^/\\]*|start|checkout-oversell|checkout-faults)\.test\.ts$/.test(file);
const phases = [
  { files: files.filter((f) => !isolated(f)), concurrency },
  { files: files.filter(isolated), concurrency: "1" },
].filter((phase) => phase.files.length > 0);

/** Runs one `node --test` over `phase.files`, echoing its output; resolves with its exit code and counts. */
function runPhase(phase) {
  const timingsFile = join(mkdtempSync(join(tmpdir(), "obfy-test-timings-")), "timings.json");
  const args = [
    "--conditions=source",
    "--import",
    "tsx",
    "--test",
    `--test-concurrency=${phase.concurrency}`,
    "--test-timeout=180000",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    `--test-reporter=${join(repoRoot, "scripts", "test-timings.mjs")}`,
    `--test-reporter-destination=${timingsFile}`,
    ...extra,
    ...phase.files.map((f) => relative(process.cwd(), f)),
  ];
  return new Promise((resolvePhase) => {
    const child = spawn(process.execPath, args, {
      stdio: ["inherit", "pipe", "inherit"],
      env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? "test" },
    });
    const counts = { pass: 0, fail: 0, cancelled: 0, skipped: 0 };
    let pending = "";
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const match = /^(?:# |ℹ )(pass|fail|cancelled|skipped) (\d+)$/.exec(line);
        if (match) counts[match[1]] = Number(match[2]);
      }
    });
    const forward = (sig) => () => child.kill(sig);
    process.on("SIGINT", forward("SIGINT"));
    process.on("SIGTERM", forward("SIGTERM"));
    child.on("exit", (code, signal) => {
      printSlowest(timingsFile);
      resolvePhase({ code: code ?? (signal ? 1 : 0), counts });
    });
  });
}

/** Prints the ten test files whose top-level tests took longest, from the timings reporter's file. */
function printSlowest(timingsFile) {
  let perFile;
  try {
    perFile = JSON.parse(readFileSync(timingsFile, "utf8"));
  } catch {
    return;
  }
  rmSync(dirname(timingsFile), { recursive: true, force: true });
  const slowest = Object.entries(perFile)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10);
  if (slowest.length === 0) return;
  console.log("Slowest test files (sum of their top-level tests):");
  for (const [file, ms] of slowest)
    console.log(`  ${(ms / 1000).toFixed(1).padStart(7)} s  ${relative(repoRoot, file)}`);
}

const DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** Starts an embedded PostgreSQL for this run when no server answers; returns its stop, if one was started. */
async function ensureTestDatabaseServer() {
  const { answers, freePort, redact, startEmbeddedPostgres } = await import("./embedded-postgres.mjs");
  const configured = process.env.TEST_DATABASE_URL;
  if (await answers(configured ?? DEFAULT_TEST_DATABASE_URL)) return undefined;
  if (configured !== undefined) {
    console.error(
      `run-tests: no PostgreSQL answers at TEST_DATABASE_URL (${redact(configured)}); start it or unset TEST_DATABASE_URL`,
    );
    process.exit(1);
  }
  const root = mkdtempSync(join(tmpdir(), "obfy-test-postgres-"));
  // Run as root, PostgreSQL runs as the OS user postgres, which must be able to enter the folder.
  chmodSync(root, 0o755);
  const password = [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, "0")).join("");
  try {
    const server = await startEmbeddedPostgres({ dataDir: join(root, "postgres"), port: await freePort(), password });
    process.env.TEST_DATABASE_URL = server.url;
    console.log(
      `run-tests: no PostgreSQL at 127.0.0.1:5432; started an embedded PostgreSQL 18 on 127.0.0.1:${server.port} for this run (${server.startMs} ms)`,
    );
    return async () => {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    };
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    console.error(`run-tests: no PostgreSQL at 127.0.0.1:5432, and the embedded one could not start: ${error.message}`);
    process.exit(1);
  }
}

const stopTestDatabaseServer = await ensureTestDatabaseServer();

let exitCode = 0;
const total = { pass: 0, fail: 0, cancelled: 0, skipped: 0 };
for (const phase of phases) {
  const { code, counts } = await runPhase(phase);
  if (code !== 0) exitCode = code;
  for (const key of Object.keys(total)) total[key] += counts[key];
}
await stopTestDatabaseServer?.();
// One closing line for the whole run (each phase printed its own summary above). A test that
// timed out is "cancelled" in node:test's counts, not "failed": it is named here too.
console.log(
  `Total: ${total.pass} passed, ${total.fail} failed, ${total.cancelled} cancelled (timed out), ${total.skipped} skipped`,
);
process.exit(exitCode);
