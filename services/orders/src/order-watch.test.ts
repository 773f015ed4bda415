// WatchOrder across replicas: the order placed on one replica and moved by the saga and the
// admin on any, watched on another; the stream sends every status and ends after a final one.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ClientError, createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { sql } from "@obfy/kit/db";
import type { RunningService } from "@obfy/kit/service";
import { ordersV1 } from "@obfy/protos";
import type { OrdersSchema } from "./db/schema.js";
import { type OrdersHarness, startOrdersHarness } from "./fixtures/orders-harness.js";

const { OrderStatus } = ordersV1;

const address = {
  recipientName: "Ada Lovelace",
  addressLine: "12 St James's Square",
  locality: "London",
  postalCode: "SW1Y 4JH",
  regionCode: "GB",
};

describe("WatchOrder", () => {
  let h: OrdersHarness;
  let replica: RunningService<OrdersSchema>;
  let watcher: ReturnType<typeof createClient<typeof ordersV1.OrdersServiceService>>;
  let shopper: Record<string, string>;

  before(async () => {
    // Polling rarely: what arrives in time arrived by notification.
    h = await startOrdersHarness({ env: { ORDER_WATCH_POLL_MS: "30000" } });
    replica = await h.startReplica();
    watcher = createClient(ordersV1.OrdersServiceService, `127.0.0.1:${replica.port}`, {
      logger: createLogger({ name: "watcher", level: "silent" }),
      retry: false,
    });
    shopper = await h.as("shopper-1");
  });
  after(async () => {
    watcher?.close();
    await h?.stop();
  });

  async function place(paymentMethodId: string): Promise<ordersV1.Order> {
    const { order } = await h.client.placeOrder(
      ordersV1.PlaceOrderRequest.fromPartial({
        idempotencyKey: randomUUID(),
        lines: [{ bookId: "1", quantity: 1 }],
        paymentMethodId,
        shippingAddress: address,
      }),
      { metadata: shopper },
    );
    assert.ok(order);
    return order;
  }

  test("on another replica: PENDING, CONFIRMED, SHIPPED, DELIVERED, then the stream ends by itself", async () => {
    await h.stock("1", 10);
    const order = await place("pm_ok");
    const seen: ordersV1.Order[] = [];
    const watching = (async () => {
      for await (const { order: now } of watcher.watchOrder(
        { orderId: order.orderId },
        { metadata: shopper, timeoutMs: 120_000 },
      )) {
        if (now === undefined) continue;
        seen.push(now);
        if (
          now.status === OrderStatus.ORDER_STATUS_CONFIRMED &&
          !seen.slice(0, -1).some((o) => o.status === now.status)
        ) {
          await h.client.shipOrder({ orderId: order.orderId }, { metadata: h.admin });
        }
        if (
          now.status === OrderStatus.ORDER_STATUS_SHIPPED &&
          !seen.slice(0, -1).some((o) => o.status === now.status)
        ) {
          await h.client.deliverOrder({ orderId: order.orderId }, { metadata: h.admin });
        }
      }
    })();
    await Promise.race([
      watching,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`stream did not end: ${JSON.stringify(seen.map((o) => o.status))}`)), 60_000),
      ),
    ]);
    const statuses = seen.map((o) => o.status).filter((s, i, all) => i === 0 || all[i - 1] !== s);
    assert.deepEqual(statuses, [
      OrderStatus.ORDER_STATUS_PENDING,
      OrderStatus.ORDER_STATUS_CONFIRMED,
      OrderStatus.ORDER_STATUS_SHIPPED,
      OrderStatus.ORDER_STATUS_DELIVERED,
    ]);
    assert.deepEqual(
      seen.at(-1)?.history.map((s) => s.note),
      ["Order placed", "Stock reserved", "Payment authorized; order confirmed", "Shipped", "Delivered"],
    );
    // Each message is a newer state than the one before.
    const times = seen.map((o) => (o.updateTime?.seconds ?? 0) * 1e9 + (o.updateTime?.nanos ?? 0));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
    );
  });

  test("a declined order's stream ends with CANCELLED and the reason; a final order's stream is one message", async () => {
    const order = await place("pm_decline");
    const seen: ordersV1.Order[] = [];
    for await (const { order: now } of watcher.watchOrder(
      { orderId: order.orderId },
      { metadata: shopper, timeoutMs: 120_000 },
    )) {
      if (now !== undefined) seen.push(now);
    }
    assert.equal(seen.at(-1)?.status, OrderStatus.ORDER_STATUS_CANCELLED);
    assert.equal(seen.at(-1)?.cancelReason, "Your card was declined");
    const again: ordersV1.Order[] = [];
    for await (const { order: now } of watcher.watchOrder(
      { orderId: order.orderId },
      { metadata: shopper, timeoutMs: 120_000 },
    )) {
      if (now !== undefined) again.push(now);
    }
    assert.equal(again.length, 1);
  });

  test("a change made while the LISTEN connection is lost still arrives (the watch polls)", async () => {
    const quick = await startOrdersHarness({ inventory: false, payments: false, env: { ORDER_WATCH_POLL_MS: "500" } });
    const shopper = await quick.as("shopper-1");
    try {
      const { order } = await quick.client.placeOrder(
        ordersV1.PlaceOrderRequest.fromPartial({
          idempotencyKey: randomUUID(),
          lines: [{ bookId: "1", quantity: 1 }],
          paymentMethodId: "pm_ok",
          shippingAddress: address,
        }),
        { metadata: shopper, timeoutMs: 15_000 },
      );
      const orderId = order?.orderId ?? "";
      const seen: ordersV1.Order[] = [];
      const stream = quick.client
        .watchOrder({ orderId }, { metadata: shopper, timeoutMs: 120_000 })
        [Symbol.asyncIterator]();
      const first = await stream.next();
      if (!first.done && first.value.order) seen.push(first.value.order);
      const killed = await sql<{ ok: boolean }>`
        select pg_terminate_backend(pid) as ok from pg_stat_activity
        where datname = current_database() and query like 'LISTEN orders_changed%'`.execute(quick.db);
      assert.ok(killed.rows.length >= 1, "the LISTEN connection was found");
      await quick.client.cancelOrder({ orderId, reason: "" }, { metadata: shopper, timeoutMs: 15_000 });
      const next = await Promise.race([
        stream.next(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("no change after the LISTEN was lost")), 20_000),
        ),
      ]);
      if (!next.done && next.value.order) seen.push(next.value.order);
      assert.deepEqual(
        seen.map((o) => o.status),
        [OrderStatus.ORDER_STATUS_PENDING, OrderStatus.ORDER_STATUS_CANCELLED],
      );
      assert.equal((await stream.next()).done, true, "ended after the final status");
    } finally {
      await quick.stop();
    }
  });

  test("someone else's order is NOT_FOUND; a replica that stops ends its watches with UNAVAILABLE", async () => {
    const order = await place("pm_silent");
    const other = await h.as("shopper-2");
    await assert.rejects(
      (async () => {
        for await (const _ of watcher.watchOrder({ orderId: order.orderId }, { metadata: other }))
          assert.fail("streamed");
      })(),
      (error: unknown) => error instanceof ClientError && error.codeName === "NOT_FOUND",
    );
    const stream = watcher
      .watchOrder({ orderId: order.orderId }, { metadata: shopper, timeoutMs: 120_000 })
      [Symbol.asyncIterator]();
    assert.equal((await stream.next()).value?.order?.status, OrderStatus.ORDER_STATUS_PENDING);
    // Caught at once: the rejection arrives while the replica is still stopping.
    const ending = stream.next().then(
      () => undefined,
      (error: unknown) => error,
    );
    await replica.stop();
    const error = await ending;
    assert.ok(error instanceof ClientError && error.codeName === "UNAVAILABLE", String(error));
    assert.equal(error.details, "Server is shutting down");
  });
});
