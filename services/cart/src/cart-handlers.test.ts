// The CartService against real PostgreSQL, the real Inventory and the pg-boss bus, through
// gRPC: anonymous and shoppers' carts, limits, prices and stock when read, the Inventory down,
// merging at sign-in, concurrency, and OrderPlaced taking the ordered lines out.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import type { cartV1 } from "@obfy/protos";
import { type CartHarness, startCartHarness } from "./fixtures/cart-harness.js";

function rejects(code: string, message?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.codeName, code, error.details);
    if (message !== undefined) assert.equal(error.details, message);
    return true;
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const BOOKS = Array.from({ length: 60 }, (_, i) => ({ bookId: String(i + 1), priceMinor: 1000 + i * 100 }));
const quantities = (cart: cartV1.Cart | undefined) =>
  Object.fromEntries((cart?.lines ?? []).map((l) => [l.bookId, l.quantity]));

describe("CartService", () => {
  let h: CartHarness;
  const anon = () => ({ anonymousCartId: randomUUID() });

  before(async () => {
    h = await startCartHarness({ books: BOOKS });
  });
  after(() => h?.stop());

  test("an anonymous cart needs a UUID; an unknown cart reads empty", async () => {
    for (const anonymousCartId of ["", "cart-1", "00000000-0000-0000-0000-00000000000g", "' or 1=1 --"]) {
      await assert.rejects(
        h.client.getCart({ cart: { anonymousCartId } }),
        rejects("INVALID_ARGUMENT", "An anonymous cart id (UUID) is required without a shopper token"),
      );
    }
    await assert.rejects(
      h.client.getCart({}),
      rejects("INVALID_ARGUMENT", "An anonymous cart id (UUID) is required without a shopper token"),
    );
    const ref = anon();
    const { cart } = await h.client.getCart({ cart: ref });
    assert.deepEqual(cart, {
      cartId: ref.anonymousCartId,
      lines: [],
      subtotal: { currencyCode: "USD", amountMinor: 0 },
      itemCount: 0,
      updateTime: undefined,
      maxQuantityPerLine: 10,
    });
    // Upper-case is the same UUID.
    await h.client.addCartLine({ cart: ref, bookId: "1", quantity: 1 });
    const upper = await h.client.getCart({ cart: { anonymousCartId: ref.anonymousCartId.toUpperCase() } });
    assert.deepEqual(quantities(upper.cart), { 1: 1 });
  });

  test("add, change and remove, with the per-line limit of 10 and a known book", async () => {
    const cart = anon();
    const added = (await h.client.addCartLine({ cart, bookId: "2", quantity: 3 })).cart;
    const line = added?.lines[0];
    assert.equal(line?.title, "Book 2");
    assert.deepEqual(line?.authors, ["A. Writer"]);
    assert.deepEqual(line?.unitPrice, { currencyCode: "USD", amountMinor: 1100 });
    assert.deepEqual(line?.addedUnitPrice, { currencyCode: "USD", amountMinor: 1100 });
    assert.deepEqual(line?.lineTotal, { currencyCode: "USD", amountMinor: 3300 });
    assert.equal(line?.priceChanged, false);
    assert.ok((added?.updateTime?.seconds ?? 0) > 0);

    await assert.rejects(
      h.client.addCartLine({ cart, bookId: "2", quantity: 8 }),
      rejects("INVALID_ARGUMENT", "At most 10 copies of a book per order"),
    );
    assert.deepEqual(quantities((await h.client.getCart({ cart })).cart), { 2: 3 }, "a refused add changes nothing");
    assert.deepEqual(quantities((await h.client.addCartLine({ cart, bookId: "2", quantity: 7 })).cart), { 2: 10 });
    for (const quantity of [0, -1]) {
      await assert.rejects(
        h.client.addCartLine({ cart, bookId: "3", quantity }),
        rejects("INVALID_ARGUMENT", "quantity must be between 1 and 10"),
      );
    }
    await assert.rejects(
      h.client.addCartLine({ cart, bookId: "3", quantity: 11 }),
      rejects("INVALID_ARGUMENT", "At most 10 copies of a book per order"),
    );
    await assert.rejects(
      h.client.addCartLine({ cart, bookId: "no-such-book", quantity: 1 }),
      rejects("NOT_FOUND", "Book not found"),
    );
    await assert.rejects(
      h.client.addCartLine({ cart, bookId: "", quantity: 1 }),
      rejects("INVALID_ARGUMENT", "book_id is required"),
    );

    await h.client.addCartLine({ cart, bookId: "3", quantity: 2 });
    assert.deepEqual(quantities((await h.client.updateCartLine({ cart, bookId: "2", quantity: 4 })).cart), {
      2: 4,
      3: 2,
    });
    await assert.rejects(
      h.client.updateCartLine({ cart, bookId: "2", quantity: 11 }),
      rejects("INVALID_ARGUMENT", "At most 10 copies of a book per order"),
    );
    await assert.rejects(
      h.client.updateCartLine({ cart, bookId: "2", quantity: -1 }),
      rejects("INVALID_ARGUMENT", "quantity must be between 0 and 10"),
    );
    await assert.rejects(
      h.client.updateCartLine({ cart, bookId: "4", quantity: 1 }),
      rejects("NOT_FOUND", "This book is not in the cart"),
    );
    await assert.rejects(
      h.client.updateCartLine({ cart: anon(), bookId: "4", quantity: 1 }),
      rejects("NOT_FOUND", "This book is not in the cart"),
    );
    assert.deepEqual(quantities((await h.client.updateCartLine({ cart, bookId: "2", quantity: 0 })).cart), { 3: 2 });
    assert.deepEqual(
      quantities((await h.client.removeCartLine({ cart, bookId: "4" })).cart),
      { 3: 2 },
      "not there: no error",
    );
    const emptied = (await h.client.removeCartLine({ cart, bookId: "3" })).cart;
    assert.deepEqual(emptied?.lines, []);
    assert.equal(emptied?.itemCount, 0);
  });

  test("prices come from the Catalog when read: a changed price is flagged, a removed book is unavailable", async () => {
    const cart = anon();
    h.catalog.put({ bookId: "price-1", title: "Dune", authors: ["Frank Herbert"], priceMinor: 999 });
    h.catalog.put({ bookId: "price-2", priceMinor: 500 });
    await h.client.addCartLine({ cart, bookId: "price-1", quantity: 2 });
    await h.client.addCartLine({ cart, bookId: "price-2", quantity: 1 });
    h.catalog.put({ bookId: "price-1", title: "Dune", authors: ["Frank Herbert"], priceMinor: 1299 });
    h.catalog.remove("price-2");
    const read = (await h.client.getCart({ cart })).cart;
    const [dune, gone] = read?.lines ?? [];
    assert.equal(dune?.priceChanged, true);
    assert.deepEqual(dune?.unitPrice, { currencyCode: "USD", amountMinor: 1299 });
    assert.deepEqual(dune?.addedUnitPrice, { currencyCode: "USD", amountMinor: 999 });
    assert.deepEqual(dune?.lineTotal, { currencyCode: "USD", amountMinor: 2598 });
    assert.equal(gone?.unavailable, true);
    assert.equal(gone?.title, "");
    assert.deepEqual(gone?.lineTotal, { currencyCode: "USD", amountMinor: 0 });
    assert.deepEqual(read?.subtotal, { currencyCode: "USD", amountMinor: 2598 }, "only lines that can be bought");
    assert.equal(read?.itemCount, 3);
    // Back at the price it was added at: no longer flagged.
    h.catalog.put({ bookId: "price-1", priceMinor: 999 });
    assert.equal((await h.client.getCart({ cart })).cart?.lines[0]?.priceChanged, false);

    h.catalog.setDown(true);
    try {
      await assert.rejects(h.client.getCart({ cart }), rejects("UNAVAILABLE", "The Catalog is unavailable; try again"));
      await assert.rejects(
        h.client.addCartLine({ cart, bookId: "price-1", quantity: 1 }),
        rejects("UNAVAILABLE", "The Catalog is unavailable; try again"),
      );
    } finally {
      h.catalog.setDown(false);
    }
    assert.deepEqual(quantities((await h.client.getCart({ cart })).cart), { "price-1": 2, "price-2": 1 });
  });

  test("stock from the Inventory: short lines flagged; with the Inventory down the cart reads with stock unknown", async () => {
    const cart = anon();
    await h.setStock("10", 2);
    await h.setStock("11", 5);
    await h.client.addCartLine({ cart, bookId: "10", quantity: 3 });
    await h.client.addCartLine({ cart, bookId: "11", quantity: 5 });
    const read = (await h.client.getCart({ cart })).cart;
    const lines = Object.fromEntries(
      (read?.lines ?? []).map((l) => [l.bookId, [l.available, l.stockShort, l.stockUnknown]]),
    );
    assert.deepEqual(lines, { 10: [2, true, false], 11: [5, false, false] });

    await h.stopInventory();
    try {
      const started = Date.now();
      const degraded = (await h.client.getCart({ cart })).cart;
      assert.ok(Date.now() - started < 4000, "answered without waiting long for the Inventory");
      assert.deepEqual(
        degraded?.lines.map((l) => [l.bookId, l.available, l.stockShort, l.stockUnknown]),
        [
          ["10", 0, false, true],
          ["11", 0, false, true],
        ],
      );
      assert.deepEqual(degraded?.subtotal, read?.subtotal, "prices still shown");
      assert.deepEqual(quantities((await h.client.addCartLine({ cart, bookId: "12", quantity: 1 })).cart), {
        10: 3,
        11: 5,
        12: 1,
      });
    } finally {
      await h.startInventory();
    }
    const back = await until("the Inventory back", async () => {
      const c = (await h.client.getCart({ cart })).cart;
      return c?.lines.every((l) => !l.stockUnknown) ? c : undefined;
    });
    assert.equal(back.lines.find((l) => l.bookId === "10")?.stockShort, true);
  });

  test("a shopper's cart follows the token; an anonymous caller never reaches it, even with the account id", async () => {
    const shopper = randomUUID();
    const metadata = await h.as(shopper);
    // With a token the anonymous id is ignored.
    await h.client.addCartLine({ cart: anon(), bookId: "20", quantity: 2 }, { metadata });
    assert.deepEqual(quantities((await h.client.getCart({}, { metadata })).cart), { 20: 2 });
    assert.equal((await h.client.getCart({}, { metadata })).cart?.cartId, shopper);
    const stranger = (await h.client.getCart({ cart: { anonymousCartId: shopper } })).cart;
    assert.deepEqual(stranger?.lines, [], "the same id as an anonymous cart is another cart");
    await h.client.removeCartLine({ cart: { anonymousCartId: shopper }, bookId: "20" });
    const other = await h.as(randomUUID());
    assert.deepEqual((await h.client.getCart({}, { metadata: other })).cart?.lines, []);
    assert.deepEqual(quantities((await h.client.getCart({}, { metadata })).cart), { 20: 2 }, "untouched");
    // A token without cart:write may read but not change.
    const readOnly = await h.as({ subject: shopper, scopes: ["cart:read"] });
    assert.deepEqual(quantities((await h.client.getCart({}, { metadata: readOnly })).cart), { 20: 2 });
    await assert.rejects(
      h.client.addCartLine({ bookId: "21", quantity: 1 }, { metadata: readOnly }),
      rejects("PERMISSION_DENIED"),
    );
  });

  test("MergeCart folds the anonymous cart in, capped at the limit, empties it; merging again changes nothing", async () => {
    const shopper = randomUUID();
    const metadata = await h.as(shopper);
    const cart = anon();
    await h.client.addCartLine({ cart, bookId: "30", quantity: 3 });
    await h.client.addCartLine({ cart, bookId: "31", quantity: 9 });
    await h.client.addCartLine({ bookId: "31", quantity: 4 }, { metadata });
    await h.client.addCartLine({ bookId: "32", quantity: 1 }, { metadata });
    const merged = (await h.client.mergeCart({ anonymousCartId: cart.anonymousCartId }, { metadata })).cart;
    assert.deepEqual(quantities(merged), { 30: 3, 31: 10, 32: 1 });
    assert.equal(merged?.cartId, shopper);
    assert.deepEqual((await h.client.getCart({ cart })).cart?.lines, []);
    const again = (await h.client.mergeCart({ anonymousCartId: cart.anonymousCartId }, { metadata })).cart;
    assert.deepEqual(quantities(again), { 30: 3, 31: 10, 32: 1 });
    assert.deepEqual(
      quantities((await h.client.mergeCart(anon(), { metadata })).cart),
      quantities(again),
      "unknown cart: no-op",
    );

    await assert.rejects(h.client.mergeCart({ anonymousCartId: cart.anonymousCartId }), rejects("UNAUTHENTICATED"));
    await assert.rejects(
      h.client.mergeCart({ anonymousCartId: "nope" }, { metadata }),
      rejects("INVALID_ARGUMENT", "anonymous_cart_id must be a UUID"),
    );

    // Five merges of one anonymous cart at once (a double sign-in): its lines count once.
    const second = anon();
    await h.client.addCartLine({ cart: second, bookId: "33", quantity: 2 });
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () => h.client.mergeCart({ anonymousCartId: second.anonymousCartId }, { metadata })),
    );
    assert.equal(outcomes.length, 5);
    assert.deepEqual(quantities((await h.client.getCart({}, { metadata })).cart), { 30: 3, 31: 10, 32: 1, 33: 2 });
  });

  test("concurrent adds never pass the limit: 15 adds of one copy, 10 succeed", async () => {
    const cart = anon();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 15 }, () => h.client.addCartLine({ cart, bookId: "40", quantity: 1 })),
    );
    const refused = outcomes.filter((o) => o.status === "rejected");
    assert.equal(outcomes.length - refused.length, 10);
    for (const r of refused) rejects("INVALID_ARGUMENT", "At most 10 copies of a book per order")(r.reason);
    assert.deepEqual(quantities((await h.client.getCart({ cart })).cart), { 40: 10 });
  });

  test("a cart holds at most 50 different books", async () => {
    const cart = anon();
    for (let i = 1; i <= 50; i++) await h.client.addCartLine({ cart, bookId: String(i), quantity: 1 });
    await assert.rejects(
      h.client.addCartLine({ cart, bookId: "51", quantity: 1 }),
      rejects("FAILED_PRECONDITION", "A cart holds at most 50 different books"),
    );
    const read = (await h.client.getCart({ cart })).cart;
    assert.equal(read?.lines.length, 50);
    assert.equal(
      read?.subtotal?.amountMinor,
      BOOKS.slice(0, 50).reduce((s, b) => s + b.priceMinor, 0),
    );
    // More copies of a book already there are still fine.
    assert.equal((await h.client.addCartLine({ cart, bookId: "1", quantity: 2 })).cart?.itemCount, 52);
  });

  test("OrderPlaced takes the ordered copies out of the order's cart, and only of that cart", async () => {
    const shopper = randomUUID();
    const metadata = await h.as(shopper);
    await h.client.addCartLine({ bookId: "50", quantity: 3 }, { metadata });
    await h.client.addCartLine({ bookId: "51", quantity: 2 }, { metadata });
    await h.client.addCartLine({ bookId: "52", quantity: 1 }, { metadata });
    const bystander = anon();
    await h.client.addCartLine({ cart: bystander, bookId: "50", quantity: 3 });
    const anonymous = anon();
    await h.client.addCartLine({ cart: anonymous, bookId: "53", quantity: 4 });

    await h.placeOrder({
      orderId: "order-1",
      ownerId: shopper,
      cartId: shopper,
      lines: [
        { bookId: "50", quantity: 3 },
        { bookId: "51", quantity: 1 },
        { bookId: "59", quantity: 1 },
      ],
    });
    await h.placeOrder({
      orderId: "order-2",
      ownerId: randomUUID(),
      cartId: anonymous.anonymousCartId,
      lines: [{ bookId: "53", quantity: 4 }],
    });
    // Placed without a cart: nothing to take out.
    await h.placeOrder({ orderId: "order-3", ownerId: shopper, cartId: "", lines: [{ bookId: "52", quantity: 1 }] });
    const mine = await until("the order's lines to leave the cart", async () => {
      const c = (await h.client.getCart({}, { metadata })).cart;
      return c?.lines.some((l) => l.bookId === "50") ? undefined : c;
    });
    assert.deepEqual(quantities(mine), { 51: 1, 52: 1 });
    await until("the anonymous order's lines to leave its cart", async () => {
      const c = (await h.client.getCart({ cart: anonymous })).cart;
      return c?.lines.length === 0 ? true : undefined;
    });
    assert.deepEqual(quantities((await h.client.getCart({ cart: bystander })).cart), { 50: 3 });
    // All three events were handled, the one without a cart too (it changes nothing).
    const handled = await until("the three OrderPlaced events to be recorded", async () => {
      const rows = await h.db.selectFrom("processed_events").select("event_id").execute();
      return rows.length >= 3 ? rows : undefined;
    });
    assert.ok(handled.length >= 3);
  });
});
