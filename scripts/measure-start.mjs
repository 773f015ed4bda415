#!/usr/bin/env node
// Measures `npm start` as a user meets it: a first start on an empty data folder (initdb, the
// databases, the catalogue's seed), then a second start on the same data. For each: the time from
// the launcher's start to "Online Books For You is ready" and to every gRPC service answering
// its health check, then, after SETTLE_SECONDS idle, the memory of every process it runs (the
// services and the embedded PostgreSQL, read from /proc: RSS, and PSS, which splits shared pages
// such as PostgreSQL's shared buffers between the processes that touch them).
//
//   npm run measure:start            (SETTLE_SECONDS=10; ports are free ones, data in a temp folder)
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { SERVICES, variablePrefix } from "./services.mjs";

const repoRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
const SETTLE_SECONDS = Number(process.env.SETTLE_SECONDS ?? 10);
const READY_TIMEOUT_MS = 180_000;

const freePort = () =>
  new Promise((done, fail) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
    server.on("error", fail);
  });

function memoryOf(pid) {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
    return { rss: kb("Rss") / 1024, pss: kb("Pss") / 1024 };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

/** Every descendant of `pid` (from /proc), with its command name. */
function descendants(pid) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const parent = Number(after[1]);
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push({ pid: Number(entry), name });
    } catch {
      // Gone meanwhile.
    }
  }
  const out = [];
  const walk = (p) => {
    for (const child of children.get(p) ?? []) {
      out.push(child);
      walk(child.pid);
    }
  };
  walk(pid);
  return out;
}

async function run(dataDir, label) {
  const env = { ...process.env, DATA_DIR: dataDir, LOG_FORMAT: "json", HOST: "127.0.0.1" };
  delete env.DATABASE_URL;
  env.EMBEDDED_POSTGRES_PORT = String(await freePort());
  for (const s of SERVICES) {
    env[`${variablePrefix(s.name)}_PORT`] = String(await freePort());
    env[`${variablePrefix(s.name)}_METRICS_PORT`] = String(await freePort());
  }
  const started = performance.now();
  const launcher = spawn(process.execPath, [join(repoRoot, "scripts/start.mjs")], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pids = new Map();
  let readyMs;
  const ready = new Promise((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`${label}: not ready within ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    createInterface({ input: launcher.stdout }).on("line", (line) => {
      const startedLine = /--> (\S+) started \(pid (\d+)\)/.exec(line);
      if (startedLine) pids.set(startedLine[1], Number(startedLine[2]));
      if (/Online Books For You is ready/.test(line)) {
        readyMs = performance.now() - started;
        clearTimeout(timer);
        done();
      }
    });
    launcher.stderr.resume();
    launcher.on("exit", (code) => fail(new Error(`${label}: npm start exited (${code}) before it was ready`)));
  });
  await ready;
  await new Promise((done) => setTimeout(done, SETTLE_SECONDS * 1000));
  const rows = [];
  for (const [name, pid] of pids) rows.push({ name, ...memoryOf(pid) });
  const postgres = descendants(launcher.pid).filter((p) => p.name.startsWith("postgres"));
  const pg = postgres.reduce(
    (sum, p) => {
      const m = memoryOf(p.pid);
      return { rss: sum.rss + m.rss, pss: sum.pss + m.pss };
    },
    { rss: 0, pss: 0 },
  );
  rows.push({ name: `postgres (${postgres.length} processes)`, ...pg });
  const exited = new Promise((done) => launcher.once("exit", (code) => done(code)));
  launcher.kill("SIGINT");
  const code = await exited;
  return { label, readyMs, rows, code };
}

const dataDir = mkdtempSync(join(tmpdir(), "measure-start-"));
chmodSync(dataDir, 0o755);
try {
  for (const label of ["first start (empty data folder)", "second start (same data)"]) {
    const { readyMs, rows, code } = await run(join(dataDir, "data"), label);
    console.log(`\n${label}: ready in ${(readyMs / 1000).toFixed(1)} s; exit code after SIGINT ${code}`);
    console.log("| process | RSS MB | PSS MB |\n| --- | --- | --- |");
    for (const r of rows) console.log(`| ${r.name} | ${r.rss.toFixed(1)} | ${r.pss.toFixed(1)} |`);
    const total = rows.reduce((s, r) => ({ rss: s.rss + r.rss, pss: s.pss + r.pss }), { rss: 0, pss: 0 });
    console.log(`| total | ${total.rss.toFixed(1)} | ${total.pss.toFixed(1)} |`);
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
