// WatchStock across two instances on one database, and the fan-out's bounds.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError, createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { sql } from "@obfy/kit/db";
import type { RunningService } from "@obfy/kit/service";
import { inventoryV1 } from "@obfy/protos";
import type { InventorySchema } from "./db/schema.js";
import { type InventoryHarness, startInventoryHarness } from "./fixtures/inventory-harness.js";
import { createStockWatch } from "./stock-watch.js";

const logger = createLogger({ name: "watch-test", level: "silent" });

/** Pulls from a response stream in the background; `next(predicate)` waits for a matching message. */
function collect(stream: AsyncIterable<inventoryV1.WatchStockResponse>) {
  const seen: inventoryV1.Stock[] = [];
  let ended: { error?: unknown } | undefined;
  const done = (async () => {
    try {
      for await (const message of stream) if (message.stock !== undefined) seen.push(message.stock);
      ended = {};
    } catch (error) {
      ended = { error };
    }
  })();
  return {
    seen,
    done,
    get ended() {
      return ended;
    },
    async next(predicate: (s: inventoryV1.Stock) => boolean, timeoutMs = 10_000): Promise<inventoryV1.Stock> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = seen.find(predicate);
        if (found !== undefined) return found;
        if (ended !== undefined) throw new Error(`stream ended: ${String(ended.error)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(`no matching stock in ${JSON.stringify(seen)}`);
    },
  };
}

describe("WatchStock", () => {
  let h: InventoryHarness;
  let replica: RunningService<InventorySchema>;
  let onReplica: ReturnType<typeof createClient<typeof inventoryV1.InventoryServiceService>>;

  before(async () => {
    h = await startInventoryHarness();
    replica = await h.startReplica();
    onReplica = createClient(inventoryV1.InventoryServiceService, `127.0.0.1:${replica.port}`, {
      logger,
      retry: false,
    });
    await h.db
      .insertInto("stock")
      .values([
        { book_id: "w1", on_hand: 5 },
        { book_id: "w2", on_hand: 1 },
      ])
      .execute();
  });
  after(async () => {
    onReplica?.close();
    await h?.stop();
  });

  test("sends the current stock, then changes made through the other instance, until cancelled", async () => {
    const cancel = new AbortController();
    const watch = collect(
      h.client.watchStock({ bookIds: ["w1", "w2", "w-none"] }, { signal: cancel.signal, timeoutMs: Infinity }),
    );
    await watch.next((s) => s.bookId === "w-none");
    assert.deepEqual(
      watch.seen.slice(0, 3).map((s) => [s.bookId, s.available, s.onHand]),
      [
        ["w1", 5, 5],
        ["w2", 1, 1],
        ["w-none", 0, 0],
      ],
    );
    // Through the replica: a reservation, a confirmation, an adjustment.
    const reservation = (
      await onReplica.reserveStock({ reservationKey: "watch-1", lines: [{ bookId: "w1", quantity: 2 }] })
    ).reservation;
    assert.equal((await watch.next((s) => s.bookId === "w1" && s.reserved === 2)).available, 3);
    await onReplica.confirmReservation({ reservationId: reservation?.reservationId ?? "" });
    assert.equal((await watch.next((s) => s.bookId === "w1" && s.onHand === 3)).reserved, 0);
    await onReplica.adjustStock(
      { bookId: "w-none", delta: 4, reason: "delivery", idempotencyKey: "watch-adj" },
      { metadata: h.admin },
    );
    assert.equal((await watch.next((s) => s.bookId === "w-none" && s.onHand === 4)).available, 4);
    const updates = watch.seen.filter((s) => s.bookId === "w2");
    assert.equal(updates.length, 1, "an unchanged book is sent once");

    cancel.abort();
    await watch.done;
    const deadline = Date.now() + 5000;
    while (h.service.server.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.service.server.inFlight, 0, "the server's side of the call ended with the cancel");
  });

  test("a watcher that does not read holds one pending value per book: the latest", async (t) => {
    const database = h.service.database;
    assert.ok(database);
    const fanOut = createStockWatch({ database, logger });
    await fanOut.start();
    t.after(() => fanOut.stop());
    const stop = new AbortController();
    t.after(() => stop.abort());
    const slow = fanOut.watch(["w2"], stop.signal)[Symbol.asyncIterator]();
    const eager = fanOut.watch(["w2"], stop.signal)[Symbol.asyncIterator]();
    const first = (await slow.next()).value;
    await eager.next();
    for (let i = 0; i < 200; i++) await sql`update stock set on_hand = on_hand + 1 where book_id = 'w2'`.execute(h.db);
    const final = first.onHand + 200;
    let seenByEager = 0;
    for (let value = (await eager.next()).value; ; value = (await eager.next()).value) {
      seenByEager++;
      if (value.onHand === final) break;
    }
    assert.ok(seenByEager >= 1);
    const next = (await slow.next()).value;
    assert.equal(next.onHand, final, "the slow watcher skips to the newest value");
    assert.equal(fanOut.watchers, 2);
    stop.abort();
    assert.equal((await slow.next()).done, true, "the watch ends when its signal aborts");
    assert.equal((await eager.next()).done, true);
    assert.equal(fanOut.watchers, 0);
  });

  test("a lost LISTEN connection comes back, and a change made meanwhile still arrives", async () => {
    const cancel = new AbortController();
    const watch = collect(h.client.watchStock({ bookIds: ["w1"] }, { signal: cancel.signal, timeoutMs: Infinity }));
    const before = await watch.next((s) => s.bookId === "w1");
    const killed = await sql<{ pid: number }>`
      select pg_terminate_backend(pid) as pid from pg_stat_activity
      where datname = current_database() and query = 'LISTEN inventory_stock'`.execute(h.db);
    assert.ok(killed.rows.length >= 2, "both instances' listeners");
    await sql`update stock set on_hand = on_hand + 1 where book_id = 'w1'`.execute(h.db);
    const after = await watch.next((s) => s.bookId === "w1" && s.onHand === before.onHand + 1);
    assert.equal(after.available, before.available + 1);
    cancel.abort();
    await watch.done;
  });

  test("a server that stops ends its watches at once with UNAVAILABLE, without waiting for the grace period", async () => {
    const watch = collect(onReplica.watchStock({ bookIds: ["w1"] }, { timeoutMs: Infinity }));
    await watch.next((s) => s.bookId === "w1");
    const started = Date.now();
    await replica.stop();
    await watch.done;
    const elapsed = Date.now() - started;
    const error = watch.ended?.error;
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.codeName, "UNAVAILABLE");
    assert.ok(elapsed < 4000, `stopped in ${elapsed} ms; the grace period is 5 s`);
    await assert.rejects(
      h.client.watchStock({ bookIds: [] })[Symbol.asyncIterator]().next(),
      (e: unknown) => e instanceof ClientError && e.codeName === "INVALID_ARGUMENT",
    );
  });
});
