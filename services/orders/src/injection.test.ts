// Injection strings through every text field a client can set: each is stored and returned
// exactly, or refused with the documented status; never INTERNAL, and nothing else changes.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { sql } from "@obfy/kit/db";
import { INJECTION_STRINGS, injectionCases } from "@obfy/kit/db/testing";
import { ordersV1 } from "@obfy/protos";
import { type OrdersHarness, startOrdersHarness } from "./fixtures/orders-harness.js";

/** The codes a refused injection string may get: a field check, or the documented answer for an unknown id. */
function refusedAs(error: unknown, allowed: readonly string[]): void {
  assert.ok(error instanceof ClientError, String(error));
  assert.ok(allowed.includes(error.codeName), `${error.codeName}: ${error.details}`);
}

describe("injection strings", () => {
  let h: OrdersHarness;
  let shopper: Record<string, string>;
  let sentinel: string;
  const tables = () =>
    sql<{ n: string }>`select count(*) as n from information_schema.tables where table_schema = 'public'`
      .execute(h.db)
      .then((r) => r.rows[0]?.n);
  let tableCount: string | undefined;

  const sample = ordersV1.PlaceOrderRequest.fromPartial({
    idempotencyKey: "key",
    lines: [{ bookId: "1", quantity: 1 }],
    paymentMethodId: "pm_ok",
    shippingAddress: {
      recipientName: "Ada Lovelace",
      addressLine: "12 St James's Square",
      locality: "London",
      postalCode: "SW1Y 4JH",
      regionCode: "GB",
    },
  });

  before(async () => {
    // Nobody answers OrderPlaced here: a long stock deadline keeps the sweeper off the orders.
    h = await startOrdersHarness({
      inventory: false,
      payments: false,
      env: { CHECKOUT_STOCK_TIMEOUT_SECONDS: "3600" },
    });
    shopper = await h.as("shopper-1");
    sentinel =
      (await h.client.placeOrder({ ...sample, idempotencyKey: randomUUID() }, { metadata: shopper })).order?.orderId ??
      "";
    tableCount = await tables();
  });
  after(async () => {
    // Nothing dropped or added, and the sentinel untouched.
    assert.equal(await tables(), tableCount);
    const row = await h.db
      .selectFrom("orders")
      .select(["status", "version"])
      .where("id", "=", sentinel)
      .executeTakeFirst();
    assert.deepEqual([row?.status, row?.version], ["pending", "1"]);
    await h?.stop();
  });

  test("PlaceOrder stores every text field exactly, or refuses it", async () => {
    let stored = 0;
    const cases = injectionCases(sample);
    // Eight at a time: a few hundred calls on a loaded machine.
    const one = async ({ path, value, request }: (typeof cases)[number]) => {
      // A fresh key per case, except where the key is the field under test.
      const call = path === "idempotencyKey" ? request : { ...request, idempotencyKey: randomUUID() };
      try {
        const { order } = await h.client.placeOrder(call, { metadata: shopper });
        assert.ok(order, path);
        stored++;
        const again = (await h.client.getOrder({ orderId: order.orderId }, { metadata: shopper })).order;
        if (path === "paymentMethodId") {
          const row = await h.db
            .selectFrom("orders")
            .select("payment_method_id")
            .where("id", "=", order.orderId)
            .executeTakeFirstOrThrow();
          assert.equal(row.payment_method_id, value);
        } else if (path.startsWith("shippingAddress.")) {
          const field = path.slice("shippingAddress.".length) as keyof NonNullable<typeof sample.shippingAddress>;
          // Addresses are stored trimmed (and the region upper-cased).
          assert.equal(
            again?.shippingAddress?.[field],
            field === "regionCode" ? value.trim().toUpperCase() : value.trim(),
          );
        } else if (path === "idempotencyKey") {
          const row = await h.db
            .selectFrom("orders")
            .select("idempotency_key")
            .where("id", "=", order.orderId)
            .executeTakeFirstOrThrow();
          assert.equal(row.idempotency_key, value);
        } else {
          assert.fail(`${path} = ${JSON.stringify(value)} was accepted`);
        }
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        // Book ids the Catalog does not have are NOT_FOUND "Book not found: <id>".
        refusedAs(error, path === "lines[0].bookId" ? ["INVALID_ARGUMENT", "NOT_FOUND"] : ["INVALID_ARGUMENT"]);
      }
    };
    for (let i = 0; i < cases.length; i += 8) await Promise.all(cases.slice(i, i + 8).map(one));
    assert.ok(stored > 0, "some strings are plain text and were stored");
  });

  test("order ids in GetOrder, CancelOrder and WatchOrder are NOT_FOUND or INVALID_ARGUMENT", async () => {
    for (const value of INJECTION_STRINGS) {
      await assert.rejects(h.client.getOrder({ orderId: value }, { metadata: shopper }), (e) => {
        refusedAs(e, ["NOT_FOUND"]);
        return true;
      });
      await assert.rejects(h.client.cancelOrder({ orderId: value, reason: value }, { metadata: h.admin }), (e) => {
        refusedAs(e, ["NOT_FOUND"]);
        return true;
      });
      await assert.rejects(
        (async () => {
          for await (const _ of h.client.watchOrder({ orderId: value }, { metadata: shopper })) assert.fail("streamed");
        })(),
        (e) => {
          refusedAs(e, ["NOT_FOUND"]);
          return true;
        },
      );
    }
  });

  test("ListOrders' search, owner and page token; the reasons of CancelOrder and RefundOrder", async () => {
    for (const value of INJECTION_STRINGS) {
      try {
        const page = await h.client.listOrders(
          ordersV1.ListOrdersRequest.fromPartial({ ownerId: "*", search: value, pageSize: 100 }),
          { metadata: h.admin },
        );
        // Matched as text: only orders whose email or id holds it.
        for (const order of page.orders) {
          assert.ok(
            order.customerEmail.toLowerCase().includes(value.trim().toLowerCase()) ||
              order.orderId.includes(value.trim().toLowerCase()),
            JSON.stringify(value),
          );
        }
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        refusedAs(error, ["INVALID_ARGUMENT"]);
      }
      try {
        const page = await h.client.listOrders(ordersV1.ListOrdersRequest.fromPartial({ ownerId: value }), {
          metadata: h.admin,
        });
        assert.ok(page.orders.every((o) => o.ownerId === value));
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        refusedAs(error, ["INVALID_ARGUMENT"]);
      }
      await assert.rejects(
        h.client.listOrders(ordersV1.ListOrdersRequest.fromPartial({ pageToken: value }), { metadata: shopper }),
        (e) => {
          refusedAs(e, ["INVALID_ARGUMENT"]);
          return true;
        },
      );
    }
    // A reason goes to the shopper as written (trimmed), or is refused.
    const cancelWith = async (value: string) => {
      const orderId =
        (await h.client.placeOrder({ ...sample, idempotencyKey: randomUUID() }, { metadata: shopper })).order
          ?.orderId ?? "";
      try {
        const { order } = await h.client.cancelOrder({ orderId, reason: value }, { metadata: h.admin });
        assert.equal(order?.cancelReason, `Cancelled by the store: ${value.trim()}`);
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        refusedAs(error, ["INVALID_ARGUMENT"]);
      }
    };
    for (let i = 0; i < INJECTION_STRINGS.length; i += 8) {
      await Promise.all(INJECTION_STRINGS.slice(i, i + 8).map(cancelWith));
    }
  });
});
