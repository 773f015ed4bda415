// A pooled connection the server ends while the service holds it between two statements (a
// transaction waiting on a broker's confirm, a handler between queries): what a PostgreSQL
// restart does to every busy service. The pool only listens for errors on idle connections, and
// a pg client with no "error" listener throws its error as an uncaught exception: found by the
// checkout fault proof (services/orders/scripts/checkout-faults.ts), where restarting PostgreSQL
// took down every service with "terminating connection due to administrator command". Now the
// transaction fails with a connection error, the process lives, and the next call gets a fresh
// connection. pg_terminate_backend sends the same FATAL 57P01 a fast shutdown does.
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { sql } from "kysely";
import pg from "pg";
import { readDatabaseConfig } from "./config.js";
import { createDatabase, type Database } from "./create-database.js";
import { isDatabaseConnectionError } from "./errors.js";
import { type Bookshop, captureLogs, firstRelease } from "./fixtures/bookshop.js";
import { createTestDatabase } from "./testing.js";

let database: Database<Bookshop>;
let admin: pg.Client;
const uncaught: unknown[] = [];
const onUncaught = (error: unknown) => uncaught.push(error);

before(async () => {
  const { url } = await createTestDatabase();
  database = createDatabase<Bookshop>({
    config: readDatabaseConfig({ DATABASE_URL: url }, { name: "shop" }),
    logger: captureLogs().logger,
    migrations: [firstRelease],
  });
  await database.migrate();
  admin = new pg.Client({ connectionString: url });
  await admin.connect();
  process.on("uncaughtException", onUncaught);
});

after(async () => {
  process.off("uncaughtException", onUncaught);
  await admin?.end();
  await database?.close();
});

it("a transaction whose connection the server ends between statements fails; the process lives; the next call works", async () => {
  let pidOf: (pid: number) => void = () => {};
  const pid = new Promise<number>((resolve) => {
    pidOf = resolve;
  });
  let ended: () => void = () => {};
  const terminated = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const transaction = database.transaction(async (trx) => {
    await trx.insertInto("books").values({ title: "before the end" }).execute();
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
    pidOf(rows[0]?.pid ?? 0);
    // Between statements, as a relay waiting on a broker: the server ends the connection now.
    await terminated;
    await trx.insertInto("books").values({ title: "after the end" }).execute();
  });
  const { rows } = await admin.query<{ ended: boolean }>("select pg_terminate_backend($1) as ended", [await pid]);
  assert.equal(rows[0]?.ended, true);
  // Until the client has read the server's FATAL message and seen the socket close.
  await new Promise((resolve) => setTimeout(resolve, 500));
  ended();
  const outcome = await transaction.then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(outcome instanceof Error, "the transaction failed");
  assert.ok(isDatabaseConnectionError(outcome), String(outcome));
  assert.deepEqual(uncaught, [], "no uncaught exception");
  // Nothing of the failed transaction stayed, and the pool hands out a working connection.
  const titles = await database.kysely.selectFrom("books").select("title").execute();
  assert.deepEqual(titles, []);
  await database.kysely.insertInto("books").values({ title: "next" }).execute();
  assert.equal((await database.kysely.selectFrom("books").select("title").execute()).length, 1);
});

it("a connection checked out of the pool and ended while idle in the caller's hands does not crash the process", async () => {
  const client = await database.pool.connect();
  const { rows } = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
  await admin.query("select pg_terminate_backend($1)", [rows[0]?.pid]);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await assert.rejects(client.query("select 1"));
  client.release(true);
  assert.deepEqual(uncaught, [], "no uncaught exception");
  assert.equal((await database.kysely.selectNoFrom(sql<number>`1`.as("one")).executeTakeFirst())?.one, 1);
});
