// The checkout saga's payment step over the real event bus (pg-boss): a stand-in Orders
// publishes through its own outbox, the Payments answers through its own.
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
import { ordersEventsV1, paymentsEventsV1 } from "@obfy/protos";
import { type PaymentsHarness, startPaymentsHarness } from "./fixtures/payments-harness.js";

type Answer =
  | { type: "PaymentAuthorized"; data: paymentsEventsV1.PaymentAuthorized }
  | { type: "PaymentRefused"; data: paymentsEventsV1.PaymentRefused }
  | { type: "PaymentCaptured"; data: paymentsEventsV1.PaymentCaptured }
  | { type: "PaymentVoided"; data: paymentsEventsV1.PaymentVoided }
  | { type: "PaymentRefunded"; data: paymentsEventsV1.PaymentRefunded };

const YEAR = new Date().getUTCFullYear();

describe("the saga's payment step", () => {
  let h: PaymentsHarness;
  let peerDatabase: TestDatabase;
  let peer: Database<EventTables>;
  let orders: EventBus<EventTables>;
  const answers: Answer[] = [];
  const logger = createLogger({ name: "orders-stand-in", level: "silent" });
  let shopper: Record<string, string>;

  before(async () => {
    h = await startPaymentsHarness();
    shopper = await h.shopper("shopper-1");
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
    const events = paymentsEventsV1;
    orders
      .subscribe(events.PaymentAuthorized, async (e) => void answers.push({ type: "PaymentAuthorized", data: e.data }))
      .subscribe(events.PaymentRefused, async (e) => void answers.push({ type: "PaymentRefused", data: e.data }))
      .subscribe(events.PaymentCaptured, async (e) => void answers.push({ type: "PaymentCaptured", data: e.data }))
      .subscribe(events.PaymentVoided, async (e) => void answers.push({ type: "PaymentVoided", data: e.data }))
      .subscribe(events.PaymentRefunded, async (e) => void answers.push({ type: "PaymentRefunded", data: e.data }));
    await orders.start();
  });
  after(async () => {
    await orders?.close();
    await peer?.close();
    await peerDatabase?.drop();
    await h?.stop();
  });

  async function answerFor(orderId: string, type: Answer["type"], timeoutMs = 30_000): Promise<Answer["data"]> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = answers.find((a) => a.type === type && a.data.orderId === orderId);
      if (found !== undefined) return found.data;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no ${type} for ${orderId}; got ${JSON.stringify(answers.map((a) => [a.type, a.data.orderId]))}`);
  }

  const answersFor = (orderId: string) => answers.filter((a) => a.data.orderId === orderId).map((a) => a.type);

  async function publish<T>(type: Parameters<typeof orders.publish<T>>[1], data: T): Promise<string> {
    return peer.transaction((trx) => orders.publish(trx, type, data));
  }

  /** Waits until the Payments recorded every one of `eventIds` as handled. */
  async function handled(eventIds: readonly string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const rows = await h.db
        .selectFrom("processed_events")
        .select("event_id")
        .where("event_id", "in", eventIds)
        .execute();
      if (rows.length === eventIds.length) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`events ${eventIds.join(", ")} not all handled`);
  }

  async function paymentMethod(number: string): Promise<string> {
    const { paymentMethod } = await h.client.createPaymentMethod(
      { card: { number, expMonth: 1, expYear: YEAR + 1, cvc: "123" } },
      { metadata: shopper },
    );
    return paymentMethod?.paymentMethodId ?? "";
  }

  function requested(orderId: string, paymentMethodId: string, amountMinor = 4200): ordersEventsV1.PaymentRequested {
    return { orderId, ownerId: "shopper-1", paymentMethodId, amount: { currencyCode: "USD", amountMinor } };
  }

  const paymentsOf = (orderId: string) =>
    h.db.selectFrom("payments").selectAll().where("order_id", "=", orderId).execute();

  async function authorized(orderId: string): Promise<paymentsEventsV1.PaymentAuthorized> {
    await publish(ordersEventsV1.PaymentRequested, requested(orderId, await paymentMethod("4242 4242 4242 4242")));
    return (await answerFor(orderId, "PaymentAuthorized")) as paymentsEventsV1.PaymentAuthorized;
  }

  test("PaymentRequested with the success card: PaymentAuthorized, one payment for a repeated request", async () => {
    const orderId = randomUUID();
    const pm = await paymentMethod("4242 4242 4242 4242");
    await publish(ordersEventsV1.PaymentRequested, requested(orderId, pm));
    await publish(ordersEventsV1.PaymentRequested, requested(orderId, pm));
    const answer = (await answerFor(orderId, "PaymentAuthorized")) as paymentsEventsV1.PaymentAuthorized;
    assert.deepEqual(
      { brand: answer.cardBrand, last4: answer.cardLast4, amount: answer.amount },
      { brand: "visa", last4: "4242", amount: { currencyCode: "USD", amountMinor: 4200 } },
    );
    const deadline = Date.now() + 20_000;
    while (answersFor(orderId).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(answersFor(orderId), ["PaymentAuthorized", "PaymentAuthorized"], "the answer again, same payment");
    const payments = await paymentsOf(orderId);
    assert.equal(payments.length, 1);
    assert.equal(payments[0]?.authorize_key, `authorize:${orderId}`);
    assert.equal(payments[0]?.status, "authorized");
  });

  test("the refusing cards: PaymentRefused with the events proto's failure codes", async () => {
    const cases: [string, string, boolean][] = [
      ["4000 0000 0000 0002", "card_declined", true],
      ["4000 0000 0000 9995", "insufficient_funds", true],
      ["4000 0000 0000 0119", "processing_error", false],
      ["4000 0000 0000 0259", "timeout", false],
    ];
    const orderIds = await Promise.all(
      cases.map(async ([number]) => {
        const orderId = randomUUID();
        await publish(ordersEventsV1.PaymentRequested, requested(orderId, await paymentMethod(number)));
        return orderId;
      }),
    );
    for (const [i, [number, code, declined]] of cases.entries()) {
      const refused = (await answerFor(orderIds[i] ?? "", "PaymentRefused")) as paymentsEventsV1.PaymentRefused;
      assert.equal(refused.failureCode, code, number);
      assert.equal(refused.declined, declined);
      assert.equal(refused.cardLast4, number.slice(-4));
      assert.ok(refused.failureMessage.length > 0);
      assert.equal((await paymentsOf(orderIds[i] ?? ""))[0]?.status, declined ? "declined" : "failed");
    }
    // Someone else's payment method, or none: refused, nothing held.
    const stranger = randomUUID();
    await publish(ordersEventsV1.PaymentRequested, { ...requested(stranger, "pm_unknownunknownunknownun") });
    assert.equal(
      ((await answerFor(stranger, "PaymentRefused")) as paymentsEventsV1.PaymentRefused).failureCode,
      "processing_error",
    );
  });

  test("OrderConfirmed captures once, however often it arrives", async () => {
    const orderId = randomUUID();
    const { paymentId } = await authorized(orderId);
    const confirmed = ordersEventsV1.OrderConfirmed.fromPartial({ orderId, ownerId: "shopper-1", paymentId });
    const ids = await Promise.all([1, 2, 3].map(() => publish(ordersEventsV1.OrderConfirmed, confirmed)));
    const captured = (await answerFor(orderId, "PaymentCaptured")) as paymentsEventsV1.PaymentCaptured;
    assert.equal(captured.paymentId, paymentId);
    assert.deepEqual(captured.amount, { currencyCode: "USD", amountMinor: 4200 });
    // All three handled (each event id recorded), one capture.
    await handled(ids);
    const outbox = await h.db.selectFrom("outbox").select("type").where("subject", "=", orderId).execute();
    assert.deepEqual(outbox.map((e) => e.type.split(".").at(-1)).sort(), ["PaymentAuthorized", "PaymentCaptured"]);
    assert.equal((await paymentsOf(orderId))[0]?.status, "captured");
  });

  test("OrderCancelled voids an authorization and refunds a capture", async () => {
    const held = randomUUID();
    const heldPayment = await authorized(held);
    await publish(
      ordersEventsV1.OrderCancelled,
      ordersEventsV1.OrderCancelled.fromPartial({
        orderId: held,
        paymentId: heldPayment.paymentId,
        cancelCode: "CANCEL_CODE_TIMED_OUT",
      }),
    );
    assert.equal(
      ((await answerFor(held, "PaymentVoided")) as paymentsEventsV1.PaymentVoided).paymentId,
      heldPayment.paymentId,
    );
    assert.equal((await paymentsOf(held))[0]?.status, "voided");

    const charged = randomUUID();
    const chargedPayment = await authorized(charged);
    await publish(
      ordersEventsV1.OrderConfirmed,
      ordersEventsV1.OrderConfirmed.fromPartial({ orderId: charged, paymentId: chargedPayment.paymentId }),
    );
    await answerFor(charged, "PaymentCaptured");
    // Cancelled after confirmation, without the payment id: found by the order.
    await publish(
      ordersEventsV1.OrderCancelled,
      ordersEventsV1.OrderCancelled.fromPartial({ orderId: charged, wasConfirmed: true }),
    );
    const refunded = (await answerFor(charged, "PaymentRefunded")) as paymentsEventsV1.PaymentRefunded;
    assert.deepEqual(refunded.amount, { currencyCode: "USD", amountMinor: 4200 });
    assert.equal((await paymentsOf(charged))[0]?.status, "refunded");
  });

  test("OrderCancelled before PaymentRequested: nothing is authorized, nothing captured", async () => {
    const orderId = randomUUID();
    const cancelled = ordersEventsV1.OrderCancelled.fromPartial({ orderId, cancelCode: "CANCEL_CODE_TIMED_OUT" });
    await handled([await publish(ordersEventsV1.OrderCancelled, cancelled)]);
    const pm = await paymentMethod("4242424242424242");
    const confirmed = ordersEventsV1.OrderConfirmed.fromPartial({ orderId });
    await handled([
      await publish(ordersEventsV1.PaymentRequested, requested(orderId, pm)),
      await publish(ordersEventsV1.OrderConfirmed, confirmed),
    ]);
    assert.deepEqual(await paymentsOf(orderId), []);
    assert.deepEqual(answersFor(orderId), []);
  });

  test("OrderRefunded refunds the captured payment once", async () => {
    const orderId = randomUUID();
    const { paymentId } = await authorized(orderId);
    await publish(ordersEventsV1.OrderConfirmed, ordersEventsV1.OrderConfirmed.fromPartial({ orderId, paymentId }));
    await answerFor(orderId, "PaymentCaptured");
    const refund = ordersEventsV1.OrderRefunded.fromPartial({ orderId, paymentId, reason: "damaged" });
    await handled([
      await publish(ordersEventsV1.OrderRefunded, refund),
      await publish(ordersEventsV1.OrderRefunded, refund),
    ]);
    await answerFor(orderId, "PaymentRefunded");
    assert.equal((await paymentsOf(orderId))[0]?.status, "refunded");
    const outbox = await h.db.selectFrom("outbox").select("type").where("subject", "=", orderId).execute();
    assert.equal(outbox.filter((e) => e.type.endsWith(".PaymentRefunded")).length, 1);
  });
});
