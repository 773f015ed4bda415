// createDatabase against a real PostgreSQL (TEST_DATABASE_URL; scripts/run-tests.mjs starts an
// embedded one when none answers): queries, transactions, migrations from empty and from the
// previous release, metrics, the slow-query line, timeouts and the error mapping.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import { sql } from "kysely";
import { GrpcError } from "../errors.js";
import { createMetrics } from "../observability/metrics.js";
import { findSamples, parsePrometheusText, sumSamples } from "../observability/prometheus-text.js";
import { readDatabaseConfig } from "./config.js";
import { createDatabase, type Database } from "./create-database.js";
import { grpcErrorForDatabaseError } from "./errors.js";
import { type Bookshop, captureLogs, firstRelease, outboxMigrations, secondRelease } from "./fixtures/bookshop.js";
import { defineMigrations, MigrationError } from "./migrations.js";
import { createTestDatabase } from "./testing.js";

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

const opened: Database<Bookshop>[] = [];
after(() => Promise.all(opened.map((database) => database.close())));

function open(
  url: string,
  options: { env?: Record<string, string>; migrations?: Parameters<typeof createDatabase>[0]["migrations"] } = {},
) {
  const { logger, lines } = captureLogs();
  const metrics = createMetrics({ defaultMetrics: false });
  const config = readDatabaseConfig({ DATABASE_URL: url, ...options.env }, { name: "shop" });
  const database = createDatabase<Bookshop>({
    config,
    logger,
    metrics,
    migrations: options.migrations ?? [outboxMigrations, secondRelease],
  });
  opened.push(database);
  return { database, lines, metrics };
}

describe("createDatabase", () => {
  let url: string;
  let shop: ReturnType<typeof open>;
  let db: Database<Bookshop>;
  before(async () => {
    url = (await createTestDatabase()).url;
    shop = open(url, { env: { DATABASE_SLOW_QUERY_MS: "50" } });
    db = shop.database;
  });

  it("migrates an empty database, the kit's set before the service's, and then has nothing to do", async () => {
    const first = await db.migrate();
    assert.deepEqual(first.applied, [
      "events_fixture/0001-create-outbox",
      "bookshop/0001-create-books",
      "bookshop/0002-add-price",
    ]);
    assert.deepEqual(first.unknown, []);
    const again = await db.migrate();
    assert.deepEqual(again.applied, []);
    const history = await sql<{ name: string }>`select name from kysely_migration_bookshop order by name`.execute(
      db.kysely,
    );
    assert.deepEqual(
      history.rows.map((row) => row.name),
      ["0001-create-books", "0002-add-price"],
    );
    assert.ok(shop.lines.some((line) => line.msg === "Applied 3 migrations to the shop database"));
    assert.ok(shop.lines.some((line) => line.msg === "The shop database schema is up to date"));
  });

  it("runs typed queries with every value as a parameter, and transactions that commit or roll back", async () => {
    const inserted = await db.kysely
      .insertInto("books")
      .values({ title: "The Hound of the Baskervilles", price_cents: 899 })
      .returning(["id", "title", "price_cents"])
      .executeTakeFirstOrThrow();
    assert.equal(inserted.title, "The Hound of the Baskervilles");
    const found = await db.kysely.selectFrom("books").selectAll().where("id", "=", inserted.id).executeTakeFirst();
    assert.equal(found?.price_cents, 899);
    assert.ok(found?.created_at instanceof Date);

    const compiled = db.kysely.selectFrom("books").select("id").where("title", "=", "x' OR '1'='1").compile();
    assert.equal(compiled.sql, 'select "id" from "books" where "title" = $1');
    assert.deepEqual(compiled.parameters, ["x' OR '1'='1"]);

    const id = await db.transaction(async (trx) => {
      const row = await trx
        .insertInto("books")
        .values({ title: "Committed" })
        .returning("id")
        .executeTakeFirstOrThrow();
      return row.id;
    });
    assert.ok(await db.kysely.selectFrom("books").select("id").where("id", "=", id).executeTakeFirst());
    await assert.rejects(
      db.transaction(async (trx) => {
        await trx.insertInto("books").values({ title: "Rolled back" }).execute();
        throw new Error("changed my mind");
      }),
      /changed my mind/,
    );
    const rolledBack = await db.kysely.selectFrom("books").select("id").where("title", "=", "Rolled back").execute();
    assert.deepEqual(rolledBack, []);
  });

  it("records query durations by operation and table, and the pool's state", async () => {
    for (let i = 0; i < 5; i++) await db.kysely.selectFrom("books").select("id").where("id", "=", i).execute();
    await db.check();
    const exposition = parsePrometheusText(await shop.metrics.registry.metrics());
    const selects = findSamples(exposition, "db_client_operation_duration_seconds_count", {
      db_namespace: "shop",
      db_operation_name: "select",
      db_collection_name: "books",
      outcome: "ok",
    });
    assert.equal(selects.length, 1);
    assert.ok((selects[0]?.value ?? 0) >= 5, `select books count ${selects[0]?.value}`);
    assert.equal(exposition.types.get("db_client_operation_duration_seconds"), "histogram");
    assert.equal(sumSamples(exposition, "db_client_connection_max", { db_namespace: "shop" }), 10);
    const connections = sumSamples(exposition, "db_client_connection_count", { db_namespace: "shop" });
    assert.ok(connections >= 1 && connections <= 10, `connections ${connections}`);
    assert.equal(sumSamples(exposition, "db_client_connection_pending_requests", { db_namespace: "shop" }), 0);
    assert.equal(sumSamples(exposition, "db_client_available", { db_namespace: "shop" }), 1);
  });

  it("logs a slow query with its statement name and SQL, never its values", async () => {
    await sql`select pg_sleep(0.08), ${"the-secret-value"}::text as v`.execute(db.kysely);
    const slow = shop.lines.filter((line) => line.msg === "Slow database query");
    assert.equal(slow.length, 1, JSON.stringify(slow));
    const [line] = slow;
    assert.equal(line?.statement, "select");
    assert.equal(line?.database, "shop");
    assert.ok(typeof line?.duration_ms === "number" && line.duration_ms >= 80, String(line?.duration_ms));
    assert.equal(line?.sql, "select pg_sleep(0.08), $1::text as v");
    assert.doesNotMatch(JSON.stringify(shop.lines), /the-secret-value/);
  });

  it("has PostgreSQL cancel a statement past DATABASE_STATEMENT_TIMEOUT_MS: DEADLINE_EXCEEDED for the caller", async () => {
    const { database, lines } = open(url, { env: { DATABASE_STATEMENT_TIMEOUT_MS: "100" } });
    const error = await sql`select pg_sleep(2)`.execute(database.kysely).then(
      () => assert.fail("the statement should have been cancelled"),
      (e: unknown) => e,
    );
    assert.equal((error as { code?: string }).code, "57014");
    const mapped = grpcErrorForDatabaseError(error, "shop");
    assert.ok(mapped instanceof GrpcError);
    assert.equal(mapped.code, status.DEADLINE_EXCEEDED);
    assert.equal(mapped.message, "The shop database did not answer in time");
    assert.equal(mapped.cause, error);
    assert.ok(lines.some((line) => line.msg.startsWith("Database statement cancelled") && line.statement === "select"));
    // The pool's connection is still good afterwards.
    assert.equal((await sql<{ one: number }>`select 1 as one`.execute(database.kysely)).rows[0]?.one, 1);
  });

  it("maps what a caller sent that PostgreSQL cannot store to INVALID_ARGUMENT, and conflicts to ABORTED", async () => {
    const nul = await db.kysely
      .insertInto("books")
      .values({ title: "a\0b" })
      .execute()
      .then(
        () => assert.fail("PostgreSQL text cannot hold NUL"),
        (e: unknown) => e,
      );
    const invalid = grpcErrorForDatabaseError(nul, "shop");
    assert.equal(invalid?.code, status.INVALID_ARGUMENT);
    assert.match(invalid?.message ?? "", /cannot be stored/);

    // Write skew under serializable isolation: one of the two transactions must fail with 40001.
    const both = [1, 2].map(async (n) =>
      db
        .transaction(
          async (trx) => {
            await sql`select count(*) from books where price_cents = 4242`.execute(trx);
            await sql`select pg_sleep(0.2)`.execute(trx);
            await trx
              .insertInto("books")
              .values({ title: `skew ${n}`, price_cents: 4242 })
              .execute();
          },
          { isolationLevel: "serializable" },
        )
        .then(
          () => undefined,
          (e: unknown) => e,
        ),
    );
    const failures = (await Promise.all(both)).filter((e) => e !== undefined);
    assert.equal(failures.length, 1, "exactly one of the two conflicting transactions fails");
    const aborted = grpcErrorForDatabaseError(failures[0], "shop");
    assert.equal(aborted?.code, status.ABORTED);

    // A constraint violation is the service's to explain: no mapping.
    const duplicate = await db.kysely
      .insertInto("books")
      .values({ id: 1, title: "duplicate" })
      .execute()
      .then(
        () => assert.fail("id 1 exists"),
        (e: unknown) => e,
      );
    assert.equal((duplicate as { code?: string }).code, "23505");
    assert.equal(grpcErrorForDatabaseError(duplicate, "shop"), undefined);
  });
});

describe("migrations", () => {
  it("upgrade the previous release's schema, keeping its rows", async () => {
    const { url } = await createTestDatabase();
    const previous = open(url, { migrations: [firstRelease] });
    assert.deepEqual((await previous.database.migrate()).applied, ["bookshop/0001-create-books"]);
    await sql`insert into books (title) values ('A Study in Scarlet'), ('The Sign of the Four')`.execute(
      previous.database.kysely,
    );
    await previous.database.close();

    const current = open(url, { migrations: [secondRelease] });
    assert.deepEqual((await current.database.migrate()).applied, ["bookshop/0002-add-price"]);
    const rows = await current.database.kysely
      .selectFrom("books")
      .select(["title", "price_cents"])
      .orderBy("id")
      .execute();
    assert.deepEqual(rows, [
      { title: "A Study in Scarlet", price_cents: 0 },
      { title: "The Sign of the Four", price_cents: 0 },
    ]);
  });

  it("roll a failing set back whole, and say which migration failed", async () => {
    const { url } = await createTestDatabase();
    const broken = defineMigrations("broken", {
      "0001-create-a": { up: async (db) => void (await sql`create table a (id int)`.execute(db)) },
      "0002-divide": { up: async (db) => void (await sql`select 1 / 0`.execute(db)) },
    });
    const { database } = open(url, { migrations: [broken] });
    await assert.rejects(database.migrate(), (error: Error) => {
      assert.ok(error instanceof MigrationError);
      assert.equal(
        error.message,
        "Migration broken/0002-divide failed, nothing of set broken was applied: division by zero",
      );
      return true;
    });
    const table = await sql<{ t: string | null }>`select to_regclass('a')::text as t`.execute(database.kysely);
    assert.equal(table.rows[0]?.t, null, "0001 ran in the same transaction and was rolled back");
  });

  it("refuse a new migration numbered before one already applied (forward-only)", async () => {
    const { url } = await createTestDatabase();
    const applied = open(url, { migrations: [defineMigrations("s", { "0002-b": { up: async () => {} } })] });
    await applied.database.migrate();
    const late = open(url, {
      migrations: [defineMigrations("s", { "0001-a": { up: async () => {} }, "0002-b": { up: async () => {} } })],
    });
    await assert.rejects(
      late.database.migrate(),
      /Cannot migrate the shop database: .*alphabetically after the last executed/,
    );
  });

  it("let a rolled-back release run on a newer schema, but not on a diverged one", async () => {
    const { url } = await createTestDatabase();
    await open(url, { migrations: [secondRelease] }).database.migrate();
    const older = open(url, { migrations: [firstRelease] });
    const report = await older.database.migrate();
    assert.deepEqual(report, { applied: [], unknown: ["bookshop/0002-add-price"] });
    assert.ok(older.lines.some((line) => line.level === 40 && /newer than this release/.test(line.msg)));

    const diverged = open(url, {
      migrations: [defineMigrations("bookshop", { ...firstRelease.migrations, "0003-other": { up: async () => {} } })],
    });
    await assert.rejects(diverged.database.migrate(), (error: Error) => {
      assert.ok(error instanceof MigrationError);
      assert.match(error.message, /has migrations this release does not have \(bookshop\/0002-add-price\)/);
      assert.match(error.message, /lacks some it has \(bookshop\/0003-other\)/);
      return true;
    });
  });

  it("reject badly named migrations and sets when declared", () => {
    assert.throws(() => defineMigrations("Bad-Name", {}), /Migration set name "Bad-Name" must match/);
    assert.throws(
      () => defineMigrations("s", { "create-books": { up: async () => {} } }),
      /must look like 0001-create-books/,
    );
    assert.throws(
      () => defineMigrations("s", { "0001-a": { up: async () => {} }, "0001-b": { up: async () => {} } }),
      /s\/0001-a and s\/0001-b have the same number/,
    );
  });
});

describe("an unreachable database", () => {
  it("is unavailable, fails fast with UNAVAILABLE, and migrate() says so in one line", async () => {
    const port = await closedPort();
    const { database, lines } = open(`postgres://nobody:pw@127.0.0.1:${port}/nothing`);
    const seen: boolean[] = [];
    database.onAvailabilityChange((available) => seen.push(available));
    assert.equal(await database.check(), false);
    assert.equal(database.available, false);
    assert.deepEqual(seen, [false]);
    assert.ok(
      lines.some((line) => line.msg === `The shop database is unavailable: connect ECONNREFUSED 127.0.0.1:${port}`),
    );

    const error = await database.kysely
      .selectFrom("books")
      .selectAll()
      .execute()
      .then(
        () => assert.fail("nothing listens there"),
        (e: unknown) => e,
      );
    const mapped = grpcErrorForDatabaseError(error, "shop");
    assert.equal(mapped?.code, status.UNAVAILABLE);
    assert.equal(mapped?.message, "The shop database is unavailable");

    await assert.rejects(database.migrate(), {
      message: `Cannot migrate the shop database: it is unavailable: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
  });
});
