#!/usr/bin/env node
// Search latency over the seeded catalogue, as a client sees it (gRPC round trip included):
// SearchBooks calls one after another, cycling through typical queries (titles, authors,
// misspellings, prefixes, several words), then p50/p90/p99/max. A GetBook (one primary-key read)
// follows each search as the control: the same client, server and machine, without the search,
// so the table shows what the search itself adds on this machine at this moment.
//
//   npm run build -w @obfy/catalog && node services/catalog/scripts/measure-search.mjs
//     [--calls 2000] [--seconds 60] [--warmup 50]
//
// Bounded twice: it stops after --calls calls or --seconds seconds, whichever comes first. With
// CATALOG_ADDRESS set it measures that Catalog; otherwise it starts the built bundle
// (dist/main.bundle.js) on a fresh database of the PostgreSQL at TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres), which seeds it, and drops that database after.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { catalogV1 } from "@obfy/protos";
import pg from "pg";

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "2000" },
    seconds: { type: "string", default: "60" },
    warmup: { type: "string", default: "50" },
  },
});
const maxCalls = Number(values.calls);
const maxSeconds = Number(values.seconds);
const warmup = Number(values.warmup);

const QUERIES = [
  "the hobbit",
  "hobit",
  "tolk",
  "agatha christie",
  "sherlok holmes",
  "murder",
  "war and peace",
  "love",
  "science",
  "frankenstien",
  "dragon submarine",
  "history of rome",
  "habits",
  "stephen king",
  "the great gatsby",
  "philosophy of mind",
  "detective london",
  "space",
  "ja",
  "dostoevsky",
];

const logger = createLogger({ name: "measure-search", level: "silent" });
let child;
const cleanups = [];

async function startCatalog() {
  const serverUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const names = [`measure_${randomBytes(4).toString("hex")}`, `measure_${randomBytes(4).toString("hex")}`];
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  // Our own random [a-z0-9_] names: safe as identifiers.
  for (const name of names) await admin.query(`create database ${name}`);
  cleanups.push(async () => {
    for (const name of names) await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  const urlOf = (name) => {
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return url.href;
  };
  const bundle = fileURLToPath(new URL("../dist/main.bundle.js", import.meta.url));
  child = spawn(process.execPath, [bundle], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: urlOf(names[0]),
      EVENT_BUS: "postgres",
      EVENT_BUS_DATABASE_URL: urlOf(names[1]),
      HOST: "127.0.0.1",
      PORT: "0",
      METRICS_PORT: "off",
      LOG_FORMAT: "json",
      AUTH_PLAINTEXT_TOKENS: process.env.AUTH_PLAINTEXT_TOKENS ?? "",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let buffered = "";
  for await (const chunk of child.stdout) {
    buffered += chunk;
    const line = buffered.split("\n").find((l) => l.includes('"msg":"catalog started'));
    if (line !== undefined) {
      child.stdout.resume();
      return JSON.parse(line).address;
    }
  }
  throw new Error(`the Catalog exited before it started:\n${buffered.slice(-2000)}`);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

try {
  const address = process.env.CATALOG_ADDRESS ?? (await startCatalog());
  const client = createClient(catalogV1.CatalogServiceService, address, { logger, retry: false });
  const { totalSize: books } = await client.listBooks({ categoryId: "", orderBy: "", pageSize: 1, pageToken: "" });
  const call = (i) =>
    client.searchBooks({ query: QUERIES[i % QUERIES.length], categoryId: "", pageSize: 20, pageToken: "" });
  for (let i = 0; i < warmup; i++) await call(i);
  const samples = [];
  const control = [];
  const deadline = performance.now() + maxSeconds * 1000;
  for (let i = 0; i < maxCalls && performance.now() < deadline; i++) {
    let started = performance.now();
    await call(i);
    samples.push(performance.now() - started);
    started = performance.now();
    await client.getBook({ bookId: String((i % books) + 1) });
    control.push(performance.now() - started);
  }
  client.close();
  const ms = (v) => `${v.toFixed(2)} ms`.padStart(10);
  const row = (name, values) => {
    values.sort((a, b) => a - b);
    const cells = [50, 90, 99].map((p) => ms(percentile(values, p)));
    return `| ${name.padEnd(22)} | ${cells.join(" | ")} | ${ms(values.at(-1))} |\n`;
  };
  process.stdout.write(
    `SearchBooks over ${books} books: ${samples.length} calls, ${QUERIES.length} queries in turn, page size 20, one call at a time\n` +
      `| call                   |        p50 |        p90 |        p99 |        max |\n` +
      `| ---------------------- | ---------- | ---------- | ---------- | ---------- |\n` +
      row("SearchBooks", samples) +
      row("GetBook (control)", control),
  );
} finally {
  if (child !== undefined && child.exitCode === null) {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
  for (const cleanup of cleanups) await cleanup();
}
