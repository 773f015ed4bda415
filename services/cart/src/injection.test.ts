// Injection strings through every text field a client can set: each is stored and returned
// exactly, or refused with the documented status; never INTERNAL, and nothing else changes.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { sql } from "@obfy/kit/db";
import { injectionCases } from "@obfy/kit/db/testing";
import { cartV1 } from "@obfy/protos";
import { type CartHarness, startCartHarness } from "./fixtures/cart-harness.js";

function refusedAs(error: unknown, allowed: readonly string[]): void {
  assert.ok(error instanceof ClientError, String(error));
  assert.ok(allowed.includes(error.codeName), `${error.codeName}: ${error.details}`);
}

describe("injection strings", () => {
  let h: CartHarness;
  const sentinel = { anonymousCartId: randomUUID() };
  const tables = () =>
    sql<{ n: string }>`select count(*) as n from information_schema.tables where table_schema = 'public'`
      .execute(h.db)
      .then((r) => r.rows[0]?.n);
  let tableCount: string | undefined;

  before(async () => {
    h = await startCartHarness({ books: [{ bookId: "1" }] });
    await h.client.addCartLine({ cart: sentinel, bookId: "1", quantity: 3 });
    tableCount = await tables();
  });
  after(async () => {
    assert.equal(await tables(), tableCount);
    const lines = await h.db
      .selectFrom("cart_lines")
      .select(["book_id", "quantity"])
      .where("cart_id", "=", sentinel.anonymousCartId)
      .execute();
    assert.deepEqual(lines, [{ book_id: "1", quantity: 3 }]);
    await h?.stop();
  });

  test("AddCartLine, UpdateCartLine and RemoveCartLine keep the book id exactly; cart ids must be UUIDs", async () => {
    const sample = cartV1.AddCartLineRequest.fromPartial({ cart: { anonymousCartId: "c" }, bookId: "b", quantity: 1 });
    for (const { path, value, request } of injectionCases(sample)) {
      const cart = path === "cart.anonymousCartId" ? { anonymousCartId: value } : { anonymousCartId: randomUUID() };
      const add = { ...request, cart };
      h.catalog.put({ bookId: add.bookId });
      try {
        const answer = (await h.client.addCartLine(add)).cart;
        assert.equal(path, "bookId", "only a UUID cart id is accepted");
        assert.deepEqual(
          answer?.lines.map((l) => [l.bookId, l.quantity, l.title]),
          [[add.bookId, 1, `Book ${add.bookId}`]],
        );
        const rows = await h.db
          .selectFrom("cart_lines")
          .select("book_id")
          .where("cart_id", "=", cart.anonymousCartId)
          .execute();
        assert.deepEqual(rows, [{ book_id: add.bookId }]);
        const updated = (await h.client.updateCartLine({ cart, bookId: add.bookId, quantity: 4 })).cart;
        assert.equal(updated?.lines[0]?.quantity, 4);
        const removed = (await h.client.removeCartLine({ cart, bookId: add.bookId })).cart;
        assert.deepEqual(removed?.lines, []);
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT"]);
      } finally {
        h.catalog.remove(add.bookId);
      }
    }
  });

  test("GetCart and MergeCart refuse anything but a UUID", async () => {
    for (const { request } of injectionCases(cartV1.GetCartRequest.fromPartial({ cart: { anonymousCartId: "c" } }))) {
      await assert.rejects(h.client.getCart(request), (error: unknown) => {
        refusedAs(error, ["INVALID_ARGUMENT"]);
        return true;
      });
    }
    const metadata = await h.as(randomUUID());
    for (const { request } of injectionCases(cartV1.MergeCartRequest.fromPartial({ anonymousCartId: "c" }))) {
      await assert.rejects(h.client.mergeCart(request, { metadata }), (error: unknown) => {
        refusedAs(error, ["INVALID_ARGUMENT"]);
        return true;
      });
    }
  });
});
