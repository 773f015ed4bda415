// listenToChannel against the real PostgreSQL: notifications, a connection the server ends, and
// a stop() that lands while a LISTEN is still being set up (Orders' watch once leaked its
// connection there, and the service's pool then waited for it forever).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import pg from "pg";
import { createLogger } from "../logger.js";
import { listenToChannel } from "./listen.js";
import { createTestDatabase, type TestDatabase } from "./testing.js";

const logger = createLogger({ name: "listen-test", level: "silent" });

/** Resolves when `check` holds, polling every 20 ms; fails after `ms`. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await delay(20);
  }
}

/** Ends `pool`, failing if it takes longer than `ms` (a connection never given back). */
async function endWithin(pool: pg.Pool, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    pool.end(),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the pool did not end within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe("listenToChannel", () => {
  let database: TestDatabase;
  let sender: pg.Pool;
  before(async () => {
    database = await createTestDatabase();
    sender = new pg.Pool({ connectionString: database.url, max: 2 });
  });
  after(async () => {
    await sender?.end();
    await database?.drop();
  });

  const notify = (channel: string, payload: string) => sender.query("select pg_notify($1, $2)", [channel, payload]);

  for (const kind of ["pool", "connection string"] as const) {
    test(`over a ${kind}: hears the channel's notifications, only them, until stopped`, async () => {
      const pool = new pg.Pool({ connectionString: database.url, max: 2 });
      const heard: (string | undefined)[] = [];
      const listening: boolean[] = [];
      const listener = listenToChannel({
        source: kind === "pool" ? pool : database.url,
        channel: "things_changed",
        logger,
        name: "Test",
        onNotification: (payload) => heard.push(payload),
        onListening: (reconnected) => {
          listening.push(reconnected);
        },
      });
      await listener.start();
      assert.deepEqual(listening, [false]);
      await notify("other_channel", "no");
      await notify("things_changed", "a");
      await notify("things_changed", "b");
      await until("two notifications", () => heard.length === 2);
      assert.deepEqual(heard, ["a", "b"]);
      await listener.stop();
      await notify("things_changed", "after stop");
      await delay(200);
      assert.deepEqual(heard, ["a", "b"]);
      const { rows } = await sender.query(
        "select count(*)::int as n from pg_stat_activity where datname = current_database() and query like 'LISTEN things_changed%' and state = 'idle'",
      );
      assert.equal(rows[0].n, 0, "no connection listens any more");
      if (kind === "pool") {
        // The connection it gave back is the pool's idle one; lent out again, it carries none of
        // the listener's handlers.
        assert.equal(pool.idleCount, 1);
        const client = await pool.connect();
        assert.equal(client.listenerCount("error"), 0);
        assert.equal(client.listenerCount("notification"), 0);
        client.release();
      }
      await endWithin(pool, 5000);
    });
  }

  test("a connection the server ends is LISTENed again, and the owner is told it may have missed some", async () => {
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    const heard: (string | undefined)[] = [];
    const listening: boolean[] = [];
    const listener = listenToChannel({
      source: pool,
      channel: "things_changed",
      logger,
      name: "Test",
      retryBaseMs: 50,
      onNotification: (payload) => heard.push(payload),
      onListening: (reconnected) => {
        listening.push(reconnected);
      },
    });
    await listener.start();
    const { rows } = await sender.query(
      "select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = current_database() and query like 'LISTEN things_changed%'",
    );
    assert.equal(rows.length, 1, "the LISTEN connection was found");
    await until("the LISTEN again", () => listening.length === 2);
    assert.deepEqual(listening, [false, true]);
    await notify("things_changed", "after the loss");
    await until("the notification", () => heard.includes("after the loss"));
    await listener.stop();
    await endWithin(pool, 5000);
  });

  test("a stop() while the LISTEN is still being set up leaves no connection behind", async () => {
    // The pool's one connection is lent to the test, so the listener waits for it in connect().
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    const borrowed = await pool.connect();
    const listener = listenToChannel({
      source: pool,
      channel: "things_changed",
      logger,
      name: "Test",
      onNotification: () => {},
    });
    const starting = listener.start();
    await delay(100);
    await listener.stop();
    borrowed.release();
    await starting;
    await endWithin(pool, 5000);
  });

  test("refuses a channel name that is not a plain identifier", () => {
    assert.throws(
      () =>
        listenToChannel({
          source: database.url,
          channel: "x; drop table users",
          logger,
          name: "Test",
          onNotification: () => {},
        }),
      /not a plain channel name/,
    );
  });
});
