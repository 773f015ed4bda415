#!/usr/bin/env node
// Measures what a query layer costs per query on top of node-postgres: plain `pg`, Kysely and
// Drizzle run the same primary-key select and the same insert against a real PostgreSQL, one
// query at a time (latency) and 16 at a time (throughput, client CPU). docs/data.md ("Why
// Kysely") has the figures and what they decided.
//
//   npm run measure:query-layers                  (a fresh database on TEST_DATABASE_URL's server)
//   TEST_DATABASE_URL=postgres://… npm run measure:query-layers
//   ROUNDS=7 QUERIES=5000 npm run measure:query-layers
//
// Each round runs every layer once, in a rotated order, on the same pool and table, so drift
// of the host's speed touches them all alike; the table reports each figure's median over the
// rounds. CPU is this process's user+system time per query: what the layer adds shows there
// first, since the server's share is the same for all three.
import { randomBytes } from "node:crypto";
import process from "node:process";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { integer, pgTable, serial, text } from "drizzle-orm/pg-core";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";

const serverUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const QUERIES = Number(process.env.QUERIES ?? 4000);
const CONCURRENT = 16;
const ROWS = 1000;

const name = `measure_${randomBytes(6).toString("hex")}`;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(serverUrl);
url.pathname = `/${name}`;
const pool = new pg.Pool({ connectionString: url.href, max: CONCURRENT });

try {
  await pool.query("CREATE TABLE books (id serial PRIMARY KEY, title text NOT NULL, price_cents integer NOT NULL)");
  await pool.query(
    "INSERT INTO books (title, price_cents) SELECT 'Book ' || g, g * 10 FROM generate_series(1, $1) AS g",
    [ROWS],
  );
  await pool.query("ANALYZE books");

  const kysely = new Kysely({ dialect: new PostgresDialect({ pool }) });
  const drizzleBooks = pgTable("books", {
    id: serial("id").primaryKey(),
    title: text("title").notNull(),
    priceCents: integer("price_cents").notNull(),
  });
  const drizzleDb = drizzle(pool);

  const layers = {
    pg: {
      select: (id) => pool.query("SELECT id, title, price_cents FROM books WHERE id = $1", [id]).then((r) => r.rows[0]),
      insert: (i) =>
        pool
          .query("INSERT INTO books (title, price_cents) VALUES ($1, $2) RETURNING id", [`New ${i}`, i])
          .then((r) => r.rows[0]),
    },
    kysely: {
      select: (id) =>
        kysely.selectFrom("books").select(["id", "title", "price_cents"]).where("id", "=", id).executeTakeFirst(),
      insert: (i) =>
        kysely
          .insertInto("books")
          .values({ title: `New ${i}`, price_cents: i })
          .returning("id")
          .executeTakeFirstOrThrow(),
    },
    drizzle: {
      select: (id) =>
        drizzleDb
          .select({ id: drizzleBooks.id, title: drizzleBooks.title, priceCents: drizzleBooks.priceCents })
          .from(drizzleBooks)
          .where(eq(drizzleBooks.id, id))
          .then((rows) => rows[0]),
      insert: (i) =>
        drizzleDb
          .insert(drizzleBooks)
          .values({ title: `New ${i}`, priceCents: i })
          .returning({ id: drizzleBooks.id })
          .then((rows) => rows[0]),
    },
  };

  // Every layer must return the same row, or the comparison means nothing.
  for (const [layer, ops] of Object.entries(layers)) {
    const row = await ops.select(7);
    const title = row?.title;
    if (title !== "Book 7") throw new Error(`${layer} returned ${JSON.stringify(row)} for id 7`);
  }

  /** Runs `count` calls of `op`, `concurrency` at a time; returns µs of wall and of CPU per call. */
  async function measure(op, count, concurrency) {
    let next = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const i = next++;
          await op((i % ROWS) + 1);
        }
      }),
    );
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000 / count;
    const cpu = process.cpuUsage(cpu0);
    return { wallUs, cpuUs: (cpu.user + cpu.system) / count };
  }

  const names = Object.keys(layers);
  const samples = {};
  // Warm-up: JIT, the pool's connections, the server's plan caches.
  for (const layer of names) {
    await measure(layers[layer].select, 1000, CONCURRENT);
    await measure(layers[layer].insert, 500, CONCURRENT);
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
    for (const layer of order) {
      for (const [op, concurrency] of [
        ["select", 1],
        ["select", CONCURRENT],
        ["insert", 1],
        ["insert", CONCURRENT],
      ]) {
        const key = `${layer} ${op} ×${concurrency}`;
        const result = await measure(layers[layer][op], QUERIES, concurrency);
        samples[key] ??= { wallUs: [], cpuUs: [] };
        samples[key].wallUs.push(result.wallUs);
        samples[key].cpuUs.push(result.cpuUs);
      }
    }
  }

  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const { rows } = await pool.query("SELECT version()");
  process.stdout.write(
    `${rows[0].version.split(",")[0]}, Node ${process.version}, ${ROUNDS} rounds × ${QUERIES} queries, medians\n\n`,
  );
  process.stdout.write(
    "| query | in flight | layer | µs per query (wall) | client CPU µs per query | CPU vs pg |\n| --- | --- | --- | --- | --- | --- |\n",
  );
  for (const [op, concurrency] of [
    ["select", 1],
    ["select", CONCURRENT],
    ["insert", 1],
    ["insert", CONCURRENT],
  ]) {
    const base = median(samples[`pg ${op} ×${concurrency}`].cpuUs);
    for (const layer of names) {
      const s = samples[`${layer} ${op} ×${concurrency}`];
      const cpu = median(s.cpuUs);
      const delta = layer === "pg" ? "" : `${cpu >= base ? "+" : ""}${(cpu - base).toFixed(1)} µs`;
      process.stdout.write(
        `| ${op === "select" ? "select by primary key" : "insert … returning id"} | ${concurrency} | ${layer} | ${median(s.wallUs).toFixed(1)} | ${cpu.toFixed(1)} | ${delta} |\n`,
      );
    }
  }
  await kysely.destroy();
} finally {
  await pool.end().catch(() => {});
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
