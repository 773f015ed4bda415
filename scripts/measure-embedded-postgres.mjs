#!/usr/bin/env node
// Measures the embedded PostgreSQL of `npm start` (scripts/embedded-postgres.mjs): the first
// start (initdb, then the server), a restart on the same data, and the memory of the running
// server (the postmaster and its background processes) idle, then with the services'
// databases created and 20 connections open. docs/data.md ("The embedded server") has the
// figures.
//
//   npm run measure:embedded-postgres            (ROUNDS=5 by default)
//
// Times run from the call to PostgreSQL accepting connections, the manager process's start
// included. Memory is read from /proc (Linux): RSS counts shared memory (shared_buffers) once
// per process that touched it, PSS splits it between them, so PSS is the server's real share.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import pg from "pg";
import { databaseUrl, ensureDatabases, freePort, startEmbeddedPostgres } from "./embedded-postgres.mjs";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DATABASES = [
  "recommendations",
  "catalog",
  "inventory",
  "accounts",
  "reviews",
  "cart",
  "orders",
  "payments",
  "notifications",
  "webhooks",
  "bus",
];

/** The PIDs of `pid` and every process below it. */
function tree(pid) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1].split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const all = [];
  const walk = (p) => {
    all.push(p);
    for (const child of children.get(p) ?? []) walk(child);
  };
  walk(pid);
  return all;
}

/** MB of RSS and PSS of `pid`'s process tree. */
function memory(pid) {
  let rssKb = 0;
  let pssKb = 0;
  const pids = tree(pid);
  for (const p of pids) {
    try {
      const rollup = readFileSync(`/proc/${p}/smaps_rollup`, "utf8");
      rssKb += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      pssKb += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
    } catch {
      // Gone meanwhile.
    }
  }
  return { processes: pids.length, rssMb: rssKb / 1024, pssMb: pssKb / 1024 };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = { first: [], restart: [], idle: [], databases: [], connected: [] };
const root = mkdtempSync(join(tmpdir(), "measure-postgres-"));
chmodSync(root, 0o755);
try {
  for (let round = 0; round < ROUNDS; round++) {
    const dataDir = join(root, `round-${round}`);
    const port = await freePort();
    const password = randomBytes(12).toString("hex");
    const first = await startEmbeddedPostgres({ dataDir, port, password });
    results.first.push(first.startMs);
    await first.stop();
    const server = await startEmbeddedPostgres({ dataDir, port, password });
    results.restart.push(server.startMs);
    // Let the background processes settle after start-up.
    await new Promise((done) => setTimeout(done, 1000));
    results.idle.push(memory(server.pid));
    const credentials = DATABASES.map((name) => ({ name, password: randomBytes(12).toString("hex") }));
    await ensureDatabases(server.url, credentials);
    results.databases.push(memory(server.pid));
    const clients = [];
    for (let i = 0; i < 20; i++) {
      const { name, password: rolePassword } = credentials[i % credentials.length];
      const client = new pg.Client({ connectionString: databaseUrl(server.url, name, rolePassword) });
      await client.connect();
      await client.query("select 1");
      clients.push(client);
    }
    results.connected.push(memory(server.pid));
    await Promise.all(clients.map((client) => client.end()));
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}

const mem = (samples) =>
  `${median(samples.map((s) => s.rssMb)).toFixed(1)} MB RSS, ${median(samples.map((s) => s.pssMb)).toFixed(1)} MB PSS (${median(samples.map((s) => s.processes))} processes)`;
process.stdout.write(`PostgreSQL 18 (embedded-postgres), Node ${process.version}, ${ROUNDS} rounds, medians\n\n`);
process.stdout.write("| measure | result |\n| --- | --- |\n");
process.stdout.write(`| first start (initdb + start) | ${median(results.first)} ms |\n`);
process.stdout.write(`| restart on the same data | ${median(results.restart)} ms |\n`);
process.stdout.write(`| memory, idle | ${mem(results.idle)} |\n`);
process.stdout.write(`| memory, ${DATABASES.length} databases created | ${mem(results.databases)} |\n`);
process.stdout.write(`| memory, 20 connections open | ${mem(results.connected)} |\n`);
