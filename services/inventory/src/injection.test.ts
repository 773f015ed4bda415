// Injection strings through every text field a client can set: each is stored and returned
// exactly, or refused with the documented status; never INTERNAL, and nothing else changes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { sql } from "@obfy/kit/db";
import { injectionCases } from "@obfy/kit/db/testing";
import type { inventoryV1 } from "@obfy/protos";
import { type InventoryHarness, startInventoryHarness } from "./fixtures/inventory-harness.js";

/** The codes a refused injection string may get: a field check, or the documented answer for an unknown id. */
function refusedAs(error: unknown, allowed: readonly string[]): void {
  assert.ok(error instanceof ClientError, String(error));
  assert.ok(allowed.includes(error.codeName), `${error.codeName}: ${error.details}`);
}

describe("injection strings", () => {
  let h: InventoryHarness;
  let counter = 0;
  const tables = () =>
    sql<{ n: string }>`select count(*) as n from information_schema.tables where table_schema = 'public'`
      .execute(h.db)
      .then((r) => r.rows[0]?.n);
  let tableCount: string | undefined;

  before(async () => {
    h = await startInventoryHarness();
    await h.db.insertInto("stock").values({ book_id: "sentinel", on_hand: 7 }).execute();
    tableCount = await tables();
  });
  after(async () => {
    // Nothing dropped or added, and the sentinel untouched.
    assert.equal(await tables(), tableCount);
    const sentinel = await h.db
      .selectFrom("stock")
      .select("on_hand")
      .where("book_id", "=", "sentinel")
      .executeTakeFirst();
    assert.equal(sentinel?.on_hand, 7);
    await h?.stop();
  });

  test("GetStock, BatchGetStock and WatchStock return the book id exactly", async () => {
    for (const { value, request } of injectionCases<inventoryV1.GetStockRequest>({ bookId: "1" })) {
      try {
        assert.equal((await h.client.getStock(request)).stock?.bookId, value);
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT"]);
      }
    }
    for (const { value, request } of injectionCases<inventoryV1.BatchGetStockRequest>({ bookIds: ["1", "2"] })) {
      try {
        assert.ok((await h.client.batchGetStock(request)).stocks.some((s) => s.bookId === value));
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT"]);
      }
    }
    for (const { value, request } of injectionCases<inventoryV1.WatchStockRequest>({ bookIds: ["1"] })) {
      const cancel = new AbortController();
      try {
        for await (const message of h.client.watchStock(request, { signal: cancel.signal })) {
          assert.equal(message.stock?.bookId, value);
          break;
        }
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT"]);
      } finally {
        cancel.abort();
      }
    }
  });

  test("ListStock refuses a page token it did not make", async () => {
    for (const { request } of injectionCases<inventoryV1.ListStockRequest>({ pageSize: 5, pageToken: "x" })) {
      await assert.rejects(h.client.listStock(request), (error: unknown) => {
        refusedAs(error, ["INVALID_ARGUMENT"]);
        return true;
      });
    }
  });

  test("AdjustStock stores book id, reason and key exactly in the audit log", async () => {
    const sample: inventoryV1.AdjustStockRequest = { bookId: "adj", delta: 1, reason: "delivery", idempotencyKey: "k" };
    for (const { path, value, request } of injectionCases(sample)) {
      const unique = { ...request, idempotencyKey: path === "idempotencyKey" ? value : `key-${counter++}` };
      try {
        const answer = await h.client.adjustStock(unique);
        assert.equal(answer.stock?.bookId, unique.bookId);
        const row = await h.db
          .selectFrom("stock_adjustments")
          .select(["book_id", "reason", "idempotency_key"])
          .where("idempotency_key", "=", unique.idempotencyKey)
          .executeTakeFirstOrThrow();
        assert.deepEqual(row, {
          book_id: unique.bookId,
          reason: unique.reason,
          idempotency_key: unique.idempotencyKey,
        });
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT"]);
      }
    }
  });

  test("ReserveStock stores the key and book ids exactly", async () => {
    const sample: inventoryV1.ReserveStockRequest = { reservationKey: "k", lines: [{ bookId: "b", quantity: 1 }] };
    for (const { path, value, request } of injectionCases(sample)) {
      const unique = { ...request, reservationKey: path === "reservationKey" ? value : `res-${counter++}` };
      const bookId = unique.lines[0]?.bookId ?? "";
      try {
        await h.db
          .insertInto("stock")
          .values({ book_id: bookId, on_hand: 1000 })
          .onConflict((c) => c.column("book_id").doNothing())
          .execute();
      } catch {
        // A value PostgreSQL cannot store (NUL): the service must refuse it too.
      }
      try {
        const reservation = (await h.client.reserveStock(unique)).reservation;
        assert.equal(reservation?.reservationKey, unique.reservationKey);
        assert.equal(reservation?.lines[0]?.bookId, bookId);
        const got = (await h.client.getReservation({ reservationId: reservation?.reservationId ?? "" })).reservation;
        assert.deepEqual(got?.lines, unique.lines);
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT"]);
      }
    }
  });

  test("reservation ids that are not ours are NOT_FOUND or INVALID_ARGUMENT", async () => {
    for (const { request } of injectionCases<inventoryV1.GetReservationRequest>({ reservationId: "r" })) {
      for (const call of [
        () => h.client.getReservation(request),
        () => h.client.confirmReservation(request),
        () => h.client.releaseReservation(request),
      ]) {
        await assert.rejects(call(), (error: unknown) => {
          refusedAs(error, ["INVALID_ARGUMENT", "NOT_FOUND"]);
          return true;
        });
      }
    }
  });
});
