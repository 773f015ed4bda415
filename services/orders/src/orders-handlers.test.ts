// The OrdersService's RPCs against PostgreSQL: placing (validation, prices from the Catalog,
// idempotency under concurrent double submits), ownership, listing, cancelling and the admin
// transitions, with the events each change put in the outbox.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { readStatusDetails } from "@obfy/kit/core";
import { googleRpcErrorDetails, ordersV1 } from "@obfy/protos";
import { type OrdersHarness, startOrdersHarness } from "./fixtures/orders-harness.js";

const { OrderStatus, CancelCode } = ordersV1;

function rejects(code: string, message?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.codeName, code, error.details);
    if (message !== undefined) assert.equal(error.details, message);
    return true;
  };
}

const address = {
  recipientName: "Ada Lovelace",
  addressLine: "12 St James's Square",
  locality: "London",
  postalCode: "SW1Y 4JH",
  regionCode: "GB",
};

function placeRequest(overrides: Partial<ordersV1.PlaceOrderRequest> = {}): ordersV1.PlaceOrderRequest {
  return ordersV1.PlaceOrderRequest.fromPartial({
    idempotencyKey: randomUUID(),
    lines: [
      { bookId: "1", quantity: 2 },
      { bookId: "3", quantity: 1 },
    ],
    paymentMethodId: "pm_ok_1",
    shippingAddress: address,
    ...overrides,
  });
}

describe("OrdersService", () => {
  let h: OrdersHarness;
  let shopper: Record<string, string>;
  let other: Record<string, string>;

  before(async () => {
    h = await startOrdersHarness({ inventory: false, payments: false });
    shopper = await h.as("shopper-1");
    other = await h.as("shopper-2");
  });
  after(async () => {
    await h?.stop();
  });

  const outbox = (orderId: string) =>
    h.db
      .selectFrom("outbox")
      .select(["type"])
      .where("subject", "=", orderId)
      .orderBy("id")
      .execute()
      .then((rows) => rows.map((r) => r.type.replace("bookstore.orders.events.v1.", "")));

  const setStatus = (orderId: string, status: "confirmed" | "shipped" | "delivered") =>
    h.db
      .updateTable("orders")
      .set({ status, step: null, step_deadline: null, payment_id: "pay_1" })
      .where("id", "=", orderId)
      .execute();

  test("PlaceOrder prices the lines from the Catalog, stores the order PENDING and publishes OrderPlaced", async () => {
    const { order } = await h.client.placeOrder(placeRequest(), { metadata: shopper });
    assert.ok(order);
    assert.equal(order.status, OrderStatus.ORDER_STATUS_PENDING);
    assert.equal(order.ownerId, "shopper-1");
    assert.equal(order.customerEmail, "shopper-1@example.com");
    assert.deepEqual(
      order.lines.map((l) => [l.bookId, l.title, l.quantity, l.unitPrice?.amountMinor, l.lineTotal?.amountMinor]),
      [
        ["1", "Book 1", 2, 1299, 2598],
        ["3", "Book 3", 1, 1499, 1499],
      ],
    );
    assert.deepEqual(order.total, { currencyCode: "USD", amountMinor: 4097 });
    assert.deepEqual(order.shippingAddress, address);
    assert.deepEqual(
      order.history.map((s) => [s.status, s.note]),
      [[OrderStatus.ORDER_STATUS_PENDING, "Order placed"]],
    );
    assert.deepEqual(await outbox(order.orderId), ["OrderPlaced"]);

    // A later price change does not change the order.
    h.catalog.books.set("1", { bookId: "1", title: "Book 1", priceMinor: 9999 });
    try {
      const again = await h.client.getOrder({ orderId: order.orderId }, { metadata: shopper });
      assert.equal(again.order?.total?.amountMinor, 4097);
    } finally {
      h.catalog.books.set("1", { bookId: "1", title: "Book 1", priceMinor: 1299 });
    }
  });

  test("a double submit (the same key, 12 at once) makes one order and one OrderPlaced", async () => {
    const request = placeRequest();
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => h.client.placeOrder(request, { metadata: shopper })),
    );
    const ids = new Set(answers.map((a) => a.order?.orderId));
    assert.equal(ids.size, 1);
    const [orderId] = [...ids] as [string];
    const rows = await h.db
      .selectFrom("orders")
      .select("id")
      .where("idempotency_key", "=", request.idempotencyKey)
      .execute();
    assert.equal(rows.length, 1);
    assert.deepEqual(await outbox(orderId), ["OrderPlaced"]);
    // Later, even after a price change: the same order, not a new one.
    h.catalog.books.set("3", { bookId: "3", title: "Book 3", priceMinor: 1 });
    try {
      const retry = await h.client.placeOrder(request, { metadata: shopper });
      assert.equal(retry.order?.orderId, orderId);
      assert.equal(retry.order?.total?.amountMinor, 4097);
    } finally {
      h.catalog.books.set("3", { bookId: "3", title: "Book 3", priceMinor: 1499 });
    }
    // The lines in another order are the same checkout.
    const reordered = await h.client.placeOrder(
      { ...request, lines: [...request.lines].reverse() },
      { metadata: shopper },
    );
    assert.equal(reordered.order?.orderId, orderId);
    // The same key with other contents is refused; another owner's same key is theirs.
    await assert.rejects(
      h.client.placeOrder({ ...request, lines: [{ bookId: "1", quantity: 3 }] }, { metadata: shopper }),
      rejects("ALREADY_EXISTS", "This checkout was already submitted with different contents"),
    );
    await assert.rejects(
      h.client.placeOrder({ ...request, paymentMethodId: "pm_ok_2" }, { metadata: shopper }),
      rejects("ALREADY_EXISTS"),
    );
    const theirs = await h.client.placeOrder(request, { metadata: other });
    assert.notEqual(theirs.order?.orderId, orderId);
    assert.equal(theirs.order?.ownerId, "shopper-2");
  });

  test("expected_total, unknown books and bad fields are refused with the documented messages", async () => {
    await assert.rejects(
      h.client.placeOrder(placeRequest({ expectedTotal: { currencyCode: "USD", amountMinor: 4000 } }), {
        metadata: shopper,
      }),
      rejects("FAILED_PRECONDITION", "Prices have changed since you looked; please review your cart"),
    );
    const ok = await h.client.placeOrder(placeRequest({ expectedTotal: { currencyCode: "USD", amountMinor: 4097 } }), {
      metadata: shopper,
    });
    assert.equal(ok.order?.status, OrderStatus.ORDER_STATUS_PENDING);
    await assert.rejects(
      h.client.placeOrder(placeRequest({ lines: [{ bookId: "404", quantity: 1 }] }), { metadata: shopper }),
      rejects("NOT_FOUND", "Book not found: 404"),
    );
    const cases: [Partial<ordersV1.PlaceOrderRequest>, string][] = [
      [{ idempotencyKey: "" }, "idempotency_key is required"],
      [{ idempotencyKey: "k".repeat(101) }, "idempotency_key must be at most 100 characters"],
      [{ lines: [] }, "lines must hold 1 to 50 lines"],
      [{ lines: [{ bookId: "1", quantity: 11 }] }, "lines[0].quantity must be between 1 and 10"],
      [{ lines: [{ bookId: "1", quantity: 0 }] }, "lines[0].quantity must be between 1 and 10"],
      [
        {
          lines: [
            { bookId: "1", quantity: 1 },
            { bookId: "1", quantity: 1 },
          ],
        },
        "lines must name each book once",
      ],
      [{ paymentMethodId: "" }, "payment_method_id is required"],
      [{ shippingAddress: undefined }, "shipping_address is required"],
      [
        { shippingAddress: { ...address, regionCode: "Britain" } },
        "shipping_address.region_code must be a two-letter country code",
      ],
      [{ shippingAddress: { ...address, recipientName: " " } }, "shipping_address.recipient_name is required"],
    ];
    for (const [change, message] of cases) {
      const error = await h.client.placeOrder(placeRequest(change), { metadata: shopper }).then(
        () => assert.fail(`accepted ${JSON.stringify(change)}`),
        (e: unknown) => e,
      );
      rejects("INVALID_ARGUMENT", message)(error);
      const [detail] = readStatusDetails((error as ClientError).metadata);
      assert.equal(detail?.typeUrl, `type.googleapis.com/${googleRpcErrorDetails.BadRequest.$type}`);
    }
    await assert.rejects(h.client.placeOrder(placeRequest()), rejects("UNAUTHENTICATED"));
  });

  test("the owner or an admin sees an order; anyone else gets NOT_FOUND, as for no order", async () => {
    const { order } = await h.client.placeOrder(placeRequest(), { metadata: shopper });
    const orderId = order?.orderId ?? "";
    assert.equal((await h.client.getOrder({ orderId }, { metadata: h.admin })).order?.orderId, orderId);
    for (const id of [orderId, randomUUID(), "not-a-uuid", ""]) {
      await assert.rejects(
        h.client.getOrder({ orderId: id }, { metadata: other }),
        rejects("NOT_FOUND", "Order not found"),
      );
    }
    await assert.rejects(h.client.cancelOrder({ orderId, reason: "" }, { metadata: other }), rejects("NOT_FOUND"));
    const stream = h.client.watchOrder({ orderId }, { metadata: other });
    await assert.rejects(
      (async () => {
        for await (const _ of stream) assert.fail("streamed someone else's order");
      })(),
      rejects("NOT_FOUND"),
    );
    // Admin-only methods refuse shoppers, their own orders included.
    await assert.rejects(h.client.shipOrder({ orderId }, { metadata: shopper }), rejects("PERMISSION_DENIED"));
    await assert.rejects(
      h.client.refundOrder({ orderId, reason: "x" }, { metadata: shopper }),
      rejects("PERMISSION_DENIED"),
    );
    // A client without the orders scopes may not place or read.
    const noScopes = await h.identity.metadata({ subject: "client-1", role: "client", scopes: [] });
    await assert.rejects(h.client.getOrder({ orderId }, { metadata: noScopes }), rejects("PERMISSION_DENIED"));
  });

  test("ListOrders: own orders newest first in pages; admins list anyone's and search; others are refused", async () => {
    const lister = await h.as("lister");
    const placed: string[] = [];
    for (let i = 0; i < 5; i++) {
      placed.push((await h.client.placeOrder(placeRequest(), { metadata: lister })).order?.orderId ?? "");
    }
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await h.client.listOrders(ordersV1.ListOrdersRequest.fromPartial({ pageSize: 2, pageToken }), {
        metadata: lister,
      });
      seen.push(...page.orders.map((o) => o.orderId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    assert.deepEqual(seen, [...placed].reverse());

    const [first] = placed as [string];
    await setStatus(first, "confirmed");
    const confirmed = await h.client.listOrders(
      ordersV1.ListOrdersRequest.fromPartial({ status: OrderStatus.ORDER_STATUS_CONFIRMED }),
      { metadata: lister },
    );
    assert.deepEqual(
      confirmed.orders.map((o) => o.orderId),
      [first],
    );

    await assert.rejects(
      h.client.listOrders(ordersV1.ListOrdersRequest.fromPartial({ ownerId: "shopper-1" }), { metadata: lister }),
      rejects("PERMISSION_DENIED", "Only admins can list other owners' orders"),
    );
    await assert.rejects(
      h.client.listOrders(ordersV1.ListOrdersRequest.fromPartial({ search: "lister" }), { metadata: lister }),
      rejects("PERMISSION_DENIED", "Only admins can search orders"),
    );
    const page = await h.client.listOrders(ordersV1.ListOrdersRequest.fromPartial({ pageSize: 2 }), {
      metadata: lister,
    });
    await assert.rejects(
      h.client.listOrders(
        ordersV1.ListOrdersRequest.fromPartial({ pageSize: 2, pageToken: page.nextPageToken, status: 2 }),
        { metadata: lister },
      ),
      rejects("INVALID_ARGUMENT", "Invalid page token"),
      "a token belongs to its filter",
    );
    await assert.rejects(
      h.client.listOrders(ordersV1.ListOrdersRequest.fromPartial({ pageToken: "nonsense" }), { metadata: lister }),
      rejects("INVALID_ARGUMENT", "Invalid page token"),
    );
    await assert.rejects(
      h.client.listOrders(ordersV1.ListOrdersRequest.fromPartial({ pageSize: 101 }), { metadata: lister }),
      rejects("INVALID_ARGUMENT"),
    );

    const byOwner = await h.client.listOrders(
      ordersV1.ListOrdersRequest.fromPartial({ ownerId: "lister", pageSize: 100 }),
      { metadata: h.admin },
    );
    assert.equal(byOwner.orders.length, 5);
    const searched = await h.client.listOrders(
      ordersV1.ListOrdersRequest.fromPartial({ ownerId: "*", search: "LISTER@example", pageSize: 100 }),
      { metadata: h.admin },
    );
    assert.deepEqual(new Set(searched.orders.map((o) => o.orderId)), new Set(placed));
    const byId = await h.client.listOrders(
      ordersV1.ListOrdersRequest.fromPartial({ ownerId: "*", search: first.slice(0, 13) }),
      { metadata: h.admin },
    );
    assert.ok(byId.orders.some((o) => o.orderId === first));
    const all = await h.client.listOrders(ordersV1.ListOrdersRequest.fromPartial({ ownerId: "*", pageSize: 100 }), {
      metadata: h.admin,
    });
    assert.ok(new Set(all.orders.map((o) => o.ownerId)).size >= 3);
  });

  test("CancelOrder: the owner until it ships (OrderCancelled once), admins with a reason", async () => {
    const pending = (await h.client.placeOrder(placeRequest(), { metadata: shopper })).order?.orderId ?? "";
    const cancelled = await h.client.cancelOrder({ orderId: pending, reason: "" }, { metadata: shopper });
    assert.equal(cancelled.order?.status, OrderStatus.ORDER_STATUS_CANCELLED);
    assert.equal(cancelled.order?.cancelCode, CancelCode.CANCEL_CODE_BY_SHOPPER);
    assert.equal(cancelled.order?.cancelReason, "Cancelled at your request");
    const again = await h.client.cancelOrder({ orderId: pending, reason: "" }, { metadata: shopper });
    assert.equal(again.order?.status, OrderStatus.ORDER_STATUS_CANCELLED);
    assert.deepEqual(await outbox(pending), ["OrderPlaced", "OrderCancelled"]);
    const row = await h.db
      .selectFrom("orders")
      .select(["step", "step_deadline"])
      .where("id", "=", pending)
      .executeTakeFirstOrThrow();
    assert.deepEqual([row.step, row.step_deadline], [null, null], "a cancelled order waits for nothing");

    // A confirmed order: cancelled with was_confirmed (Inventory restocks, Payments refunds).
    const confirmed = (await h.client.placeOrder(placeRequest(), { metadata: shopper })).order?.orderId ?? "";
    await setStatus(confirmed, "confirmed");
    await assert.rejects(
      h.client.cancelOrder({ orderId: confirmed, reason: "" }, { metadata: h.admin }),
      rejects("INVALID_ARGUMENT", "reason is required"),
    );
    const byAdmin = await h.client.cancelOrder({ orderId: confirmed, reason: "Out of print" }, { metadata: h.admin });
    assert.equal(byAdmin.order?.cancelCode, CancelCode.CANCEL_CODE_BY_ADMIN);
    assert.equal(byAdmin.order?.cancelReason, "Cancelled by the store: Out of print");
    const event = await h.db
      .selectFrom("outbox")
      .select(["data"])
      .where("subject", "=", confirmed)
      .where("type", "=", "bookstore.orders.events.v1.OrderCancelled")
      .executeTakeFirstOrThrow();
    assert.ok(event.data);

    // Shipped: too late.
    const shipped = (await h.client.placeOrder(placeRequest(), { metadata: shopper })).order?.orderId ?? "";
    await setStatus(shipped, "shipped");
    await assert.rejects(
      h.client.cancelOrder({ orderId: shipped, reason: "" }, { metadata: shopper }),
      rejects("FAILED_PRECONDITION", "This order has shipped and can no longer be cancelled"),
    );
  });

  test("ShipOrder, DeliverOrder and RefundOrder apply only from their status, once each", async () => {
    const orderId = (await h.client.placeOrder(placeRequest(), { metadata: shopper })).order?.orderId ?? "";
    await assert.rejects(
      h.client.shipOrder({ orderId }, { metadata: h.admin }),
      rejects("FAILED_PRECONDITION", "Only confirmed orders can be shipped"),
    );
    await setStatus(orderId, "confirmed");
    await assert.rejects(
      h.client.deliverOrder({ orderId }, { metadata: h.admin }),
      rejects("FAILED_PRECONDITION", "Only shipped orders can be delivered"),
    );
    assert.equal(
      (await h.client.shipOrder({ orderId }, { metadata: h.admin })).order?.status,
      OrderStatus.ORDER_STATUS_SHIPPED,
    );
    assert.equal(
      (await h.client.shipOrder({ orderId }, { metadata: h.admin })).order?.status,
      OrderStatus.ORDER_STATUS_SHIPPED,
    );
    await assert.rejects(
      h.client.refundOrder({ orderId, reason: "Damaged" }, { metadata: h.admin }),
      rejects("FAILED_PRECONDITION", "Only delivered orders can be refunded"),
    );
    assert.equal(
      (await h.client.deliverOrder({ orderId }, { metadata: h.admin })).order?.status,
      OrderStatus.ORDER_STATUS_DELIVERED,
    );
    await assert.rejects(
      h.client.refundOrder({ orderId, reason: "" }, { metadata: h.admin }),
      rejects("INVALID_ARGUMENT"),
    );
    const refunded = await h.client.refundOrder({ orderId, reason: "Damaged" }, { metadata: h.admin });
    assert.equal(refunded.order?.status, OrderStatus.ORDER_STATUS_REFUNDED);
    await h.client.refundOrder({ orderId, reason: "Damaged" }, { metadata: h.admin });
    assert.deepEqual(await outbox(orderId), ["OrderPlaced", "OrderShipped", "OrderDelivered", "OrderRefunded"]);
    assert.deepEqual(
      refunded.order?.history.map((s) => s.note),
      ["Order placed", "Shipped", "Delivered", "Refunded: Damaged"],
    );
  });

  test("an unreachable Catalog is UNAVAILABLE, and nothing is stored", async () => {
    await h.catalog.server.shutdown();
    const request = placeRequest();
    await assert.rejects(
      h.client.placeOrder(request, { metadata: shopper }),
      rejects("UNAVAILABLE", "The catalog is unavailable; please try again"),
    );
    const rows = await h.db
      .selectFrom("orders")
      .select("id")
      .where("idempotency_key", "=", request.idempotencyKey)
      .execute();
    assert.equal(rows.length, 0);
  });
});
