// An OrderCancelled that arrives while the processor is still answering the order's
// PaymentRequested (the processor takes 1.5 s here): the two handlers serialise on the order's
// advisory lock, so the authorization is voided at once instead of holding money for an order
// that no longer exists. Without the lock the cancellation would find no payment, and the
// authorization would commit after it and stay held.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { createLogger } from "@obfy/kit/core";
import { createDatabase, type Database, readDatabaseConfig, sql } from "@obfy/kit/db";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import {
  createEventBus,
  type EventBus,
  type EventTables,
  eventsMigrations,
  readEventBusConfig,
} from "@obfy/kit/events";
import { ordersEventsV1 } from "@obfy/protos";
import { type PaymentsHarness, startPaymentsHarness } from "./fixtures/payments-harness.js";

let h: PaymentsHarness;
let peerDatabase: TestDatabase;
let peer: Database<EventTables>;
let orders: EventBus<EventTables>;
const logger = createLogger({ name: "orders-stand-in", level: "silent" });

before(async () => {
  h = await startPaymentsHarness({
    env: { PAYMENTS_PROCESSOR_LATENCY_MS: "1500", PAYMENTS_PROCESSOR_TIMEOUT_MS: "5000" },
  });
  peerDatabase = await createTestDatabase();
  peer = createDatabase<EventTables>({
    config: readDatabaseConfig(peerDatabase.env, { name: "orders" }),
    logger,
    migrations: [eventsMigrations],
  });
  await peer.migrate();
  orders = createEventBus<EventTables>({
    service: "orders",
    db: peer.kysely,
    listen: peer.pool,
    config: readEventBusConfig(h.env),
    logger,
  });
  await orders.start();
});
after(async () => {
  await orders?.close();
  await peer?.close();
  await peerDatabase?.drop();
  await h?.stop();
});

test("a cancellation during the authorization voids it", async () => {
  const { paymentMethod } = await h.client.createPaymentMethod(
    { card: { number: "4242424242424242", expMonth: 1, expYear: new Date().getUTCFullYear() + 1, cvc: "123" } },
    { metadata: await h.shopper("shopper-1") },
  );
  const orderIds = Array.from({ length: 3 }, () => randomUUID());
  for (const orderId of orderIds) {
    await peer.transaction((trx) =>
      orders.publish(trx, ordersEventsV1.PaymentRequested, {
        orderId,
        ownerId: "shopper-1",
        paymentMethodId: paymentMethod?.paymentMethodId ?? "",
        amount: { currencyCode: "USD", amountMinor: 1000 },
      }),
    );
  }
  // Once an authorization is under way (its handler holds the order's lock), cancel every order.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { rows } = await sql<{ n: string }>`
      select count(*) as n from pg_locks
      where locktype = 'advisory' and granted
        and database = (select oid from pg_database where datname = current_database())`.execute(h.db);
    if (Number(rows[0]?.n) > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const cancelled = await Promise.all(
    orderIds.map((orderId) =>
      peer.transaction((trx) =>
        orders.publish(
          trx,
          ordersEventsV1.OrderCancelled,
          ordersEventsV1.OrderCancelled.fromPartial({ orderId, cancelCode: "CANCEL_CODE_TIMED_OUT" }),
        ),
      ),
    ),
  );
  const settled = Date.now() + 60_000;
  while (Date.now() < settled) {
    const handled = await h.db
      .selectFrom("processed_events")
      .select("event_id")
      .where("event_id", "in", cancelled)
      .execute();
    if (handled.length === cancelled.length) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const payments = await h.db
    .selectFrom("payments")
    .select(["order_id", "status"])
    .where("order_id", "in", orderIds)
    .execute();
  // Each order: its authorization was voided, or (cancelled first) never made. None is held.
  assert.ok(payments.length > 0, "at least one authorization was under way when its order was cancelled");
  for (const payment of payments) assert.equal(payment.status, "voided", JSON.stringify(payment));
});
