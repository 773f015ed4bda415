// The checkout saga's stock step over the real event bus (pg-boss): a stand-in Orders and
// Catalog publish through their own outboxes, the Inventory answers through its own.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { createLogger } from "@obfy/kit/core";
import { createDatabase, type Database, readDatabaseConfig } from "@obfy/kit/db";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import {
  createEventBus,
  type EventBus,
  type EventTables,
  eventsMigrations,
  readEventBusConfig,
} from "@obfy/kit/events";
import { catalogEventsV1, inventoryEventsV1, ordersEventsV1 } from "@obfy/protos";
import { type InventoryHarness, startInventoryHarness } from "./fixtures/inventory-harness.js";
import { loadOpeningStock } from "./opening-stock.js";
import { orderReservationKey } from "./saga.js";

type Answer =
  | { type: "StockReserved"; data: inventoryEventsV1.StockReserved }
  | { type: "StockReservationFailed"; data: inventoryEventsV1.StockReservationFailed }
  | { type: "ReservationReleased"; data: inventoryEventsV1.ReservationReleased }
  | { type: "ReservationConfirmed"; data: inventoryEventsV1.ReservationConfirmed };

describe("the saga's stock step", () => {
  let h: InventoryHarness;
  let peerDatabase: TestDatabase;
  let peer: Database<EventTables>;
  let orders: EventBus<EventTables>;
  let catalog: EventBus<EventTables>;
  const answers: Answer[] = [];
  const logger = createLogger({ name: "peers", level: "silent" });

  before(async () => {
    h = await startInventoryHarness({ env: { RESERVATION_TTL_SECONDS: "900" } });
    peerDatabase = await createTestDatabase();
    peer = createDatabase<EventTables>({
      config: readDatabaseConfig(peerDatabase.env, { name: "peers" }),
      logger,
      migrations: [eventsMigrations],
    });
    await peer.migrate();
    const config = readEventBusConfig(h.env);
    orders = createEventBus<EventTables>({ service: "orders", db: peer.kysely, listen: peer.pool, config, logger });
    // Both stand-ins share one outbox: only one relay may run on it.
    catalog = createEventBus<EventTables>({ service: "catalog", db: peer.kysely, config, logger, relay: false });
    const events = inventoryEventsV1;
    orders
      .subscribe(events.StockReserved, async (e) => void answers.push({ type: "StockReserved", data: e.data }))
      .subscribe(
        events.StockReservationFailed,
        async (e) => void answers.push({ type: "StockReservationFailed", data: e.data }),
      )
      .subscribe(
        events.ReservationReleased,
        async (e) => void answers.push({ type: "ReservationReleased", data: e.data }),
      )
      .subscribe(
        events.ReservationConfirmed,
        async (e) => void answers.push({ type: "ReservationConfirmed", data: e.data }),
      );
    await Promise.all([orders.start(), catalog.start()]);
  });
  after(async () => {
    await orders?.close();
    await catalog?.close();
    await peer?.close();
    await peerDatabase?.drop();
    await h?.stop();
  });

  async function answerFor(orderId: string, type: Answer["type"], timeoutMs = 30_000): Promise<Answer> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = answers.find((a) => a.type === type && a.data.orderId === orderId);
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no ${type} for ${orderId}; got ${JSON.stringify(answers.map((a) => [a.type, a.data.orderId]))}`);
  }

  async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await probe()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  const stockOf = async (bookId: string) => (await h.client.getStock({ bookId })).stock;

  function line(bookId: string, quantity: number): ordersEventsV1.OrderedLine {
    return { bookId, title: `Book ${bookId}`, quantity, unitPrice: { currencyCode: "USD", amountMinor: 1299 } };
  }

  async function publish<T>(type: Parameters<typeof orders.publish<T>>[1], data: T, bus = orders): Promise<void> {
    await peer.transaction((trx) => bus.publish(trx, type, data));
  }

  function placed(orderId: string, lines: ordersEventsV1.OrderedLine[]): ordersEventsV1.OrderPlaced {
    return ordersEventsV1.OrderPlaced.fromPartial({ orderId, ownerId: "shopper-1", lines });
  }

  test("BookCreated creates the book's row with its ISBN's opening stock (0 when unlisted), once", async () => {
    const [isbn, quantity] = [...loadOpeningStock()].find(([, q]) => q > 0) ?? ["", 0];
    const created = (bookId: string, isbn: string) =>
      catalogEventsV1.BookCreated.fromPartial({ book: { bookId, isbn, title: "T", version: 1 } });
    await publish(catalogEventsV1.BookCreated, created("5001", isbn), catalog);
    await publish(catalogEventsV1.BookCreated, created("5002", "9999999999999"), catalog);
    await until(
      "both rows",
      async () =>
        (await h.db.selectFrom("stock").select("book_id").where("book_id", "in", ["5001", "5002"]).execute()).length ===
        2,
    );
    assert.equal((await stockOf("5001"))?.onHand, quantity);
    assert.equal((await stockOf("5002"))?.onHand, 0);
    // Created again (a backfill racing, a replayed event): the row, with what happened to it since, stays.
    await h.db.updateTable("stock").set({ on_hand: 77 }).where("book_id", "=", "5001").execute();
    await publish(catalogEventsV1.BookCreated, created("5001", isbn), catalog);
    await publish(catalogEventsV1.BookCreated, created("5003", isbn), catalog);
    await until("the third row", async () => (await stockOf("5003"))?.onHand === quantity);
    assert.equal((await stockOf("5001"))?.onHand, 77);
  });

  test("OrderPlaced reserves (StockReserved); OrderConfirmed commits it (ReservationConfirmed)", async () => {
    await h.db
      .insertInto("stock")
      .values([
        { book_id: "s1", on_hand: 5 },
        { book_id: "s2", on_hand: 5 },
      ])
      .execute();
    const orderId = randomUUID();
    await publish(ordersEventsV1.OrderPlaced, placed(orderId, [line("s1", 2), line("s2", 1)]));
    const reserved = (await answerFor(orderId, "StockReserved")).data as inventoryEventsV1.StockReserved;
    assert.deepEqual(reserved.lines, [
      { bookId: "s1", quantity: 2 },
      { bookId: "s2", quantity: 1 },
    ]);
    assert.ok((reserved.expireTime?.seconds ?? 0) > Date.now() / 1000 + 800, "held for 15 minutes");
    assert.deepEqual([(await stockOf("s1"))?.available, (await stockOf("s2"))?.available], [3, 4]);
    const stored = await h.db
      .selectFrom("reservations")
      .selectAll()
      .where("id", "=", reserved.reservationId)
      .executeTakeFirstOrThrow();
    assert.deepEqual([stored.reservation_key, stored.order_id], [orderReservationKey(orderId), orderId]);

    await publish(
      ordersEventsV1.OrderConfirmed,
      ordersEventsV1.OrderConfirmed.fromPartial({
        orderId,
        reservationId: reserved.reservationId,
        lines: [line("s1", 2), line("s2", 1)],
      }),
    );
    const confirmed = await answerFor(orderId, "ReservationConfirmed");
    assert.equal((confirmed.data as inventoryEventsV1.ReservationConfirmed).reservationId, reserved.reservationId);
    assert.deepEqual(
      [await stockOf("s1"), await stockOf("s2")].map((s) => [s?.onHand, s?.reserved]),
      [
        [3, 0],
        [4, 0],
      ],
    );

    // Cancelled after confirmation (was_confirmed): the quantities go back on hand, once.
    const cancelled = ordersEventsV1.OrderCancelled.fromPartial({
      orderId,
      reservationId: reserved.reservationId,
      wasConfirmed: true,
      cancelCode: "CANCEL_CODE_BY_SHOPPER",
    });
    await publish(ordersEventsV1.OrderCancelled, cancelled);
    await until("the restock", async () => (await stockOf("s1"))?.onHand === 5);
    await publish(ordersEventsV1.OrderCancelled, cancelled);
    await publish(ordersEventsV1.OrderConfirmed, ordersEventsV1.OrderConfirmed.fromPartial({ orderId }));
    await until("both handled", async () => {
      const n = await h.db.selectFrom("processed_events").select("event_id").execute();
      return n.length >= 9;
    });
    assert.deepEqual([(await stockOf("s1"))?.onHand, (await stockOf("s2"))?.onHand], [5, 5], "restocked once");
  });

  test("a short order gets StockReservationFailed with its short lines, and nothing is held", async () => {
    await h.db
      .insertInto("stock")
      .values([
        { book_id: "f1", on_hand: 1 },
        { book_id: "f2", on_hand: 9 },
      ])
      .execute();
    const orderId = randomUUID();
    await publish(ordersEventsV1.OrderPlaced, placed(orderId, [line("f1", 2), line("f2", 1)]));
    const failed = (await answerFor(orderId, "StockReservationFailed"))
      .data as inventoryEventsV1.StockReservationFailed;
    assert.deepEqual(failed.shortLines, [{ bookId: "f1", requested: 2, available: 1 }]);
    assert.deepEqual([(await stockOf("f1"))?.reserved, (await stockOf("f2"))?.reserved], [0, 0]);
  });

  test("OrderCancelled releases a held reservation (ReservationReleased), and a late OrderPlaced reserves nothing", async () => {
    await h.db.insertInto("stock").values({ book_id: "c1", on_hand: 4 }).execute();
    const orderId = randomUUID();
    await publish(ordersEventsV1.OrderPlaced, placed(orderId, [line("c1", 3)]));
    await answerFor(orderId, "StockReserved");
    await publish(
      ordersEventsV1.OrderCancelled,
      ordersEventsV1.OrderCancelled.fromPartial({ orderId, cancelCode: "CANCEL_CODE_PAYMENT_DECLINED" }),
    );
    const released = (await answerFor(orderId, "ReservationReleased")).data as inventoryEventsV1.ReservationReleased;
    assert.equal(released.reason, "released");
    assert.equal((await stockOf("c1"))?.available, 4);

    // Cancelled before its OrderPlaced was handled (events are not ordered): a tombstone.
    const early = randomUUID();
    await publish(
      ordersEventsV1.OrderCancelled,
      ordersEventsV1.OrderCancelled.fromPartial({ orderId: early, cancelCode: "CANCEL_CODE_TIMED_OUT" }),
    );
    await until(
      "the tombstone",
      async () =>
        (await h.db
          .selectFrom("reservations")
          .select("id")
          .where("reservation_key", "=", orderReservationKey(early))
          .executeTakeFirst()) !== undefined,
    );
    await publish(ordersEventsV1.OrderPlaced, placed(early, [line("c1", 1)]));
    await until("the late OrderPlaced handled", async () => {
      const rows = await h.db.selectFrom("processed_events").select("event_id").execute();
      // 9 from the first tests, the short order's, then this test's four.
      return rows.length >= 14;
    });
    assert.equal((await stockOf("c1"))?.available, 4, "nothing held for a cancelled order");
    assert.equal(
      answers.find((a) => a.data.orderId === early),
      undefined,
    );
  });

  test('an order\'s reservation left unconfirmed expires by itself with ReservationReleased "expired"', async () => {
    await h.db.insertInto("stock").values({ book_id: "e1", on_hand: 2 }).execute();
    const orderId = randomUUID();
    await publish(ordersEventsV1.OrderPlaced, placed(orderId, [line("e1", 2)]));
    const reserved = (await answerFor(orderId, "StockReserved")).data as inventoryEventsV1.StockReserved;
    await h.db
      .updateTable("reservations")
      .set({ expire_at: new Date(Date.now() - 1000) })
      .where("id", "=", reserved.reservationId)
      .execute();
    const released = (await answerFor(orderId, "ReservationReleased")).data as inventoryEventsV1.ReservationReleased;
    assert.equal(released.reason, "expired");
    assert.equal((await stockOf("e1"))?.available, 2);
  });
});
