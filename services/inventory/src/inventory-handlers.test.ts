// The InventoryService against real PostgreSQL (and the pg-boss bus), through gRPC.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError, createClient } from "@obfy/kit/client";
import { createLogger, readStatusDetails } from "@obfy/kit/core";
import { sql } from "@obfy/kit/db";
import { googleRpcErrorDetails, inventoryV1 } from "@obfy/protos";
import { type InventoryHarness, startInventoryHarness } from "./fixtures/inventory-harness.js";
import { loadOpeningStock } from "./opening-stock.js";

const opening = loadOpeningStock();
// The first 250 books of the seed stocktake, as the Catalog would number them.
const BOOKS = [...opening.keys()].slice(0, 250).map((isbn, i) => ({ bookId: String(i + 1), isbn }));

function rejects(code: string, message?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.codeName, code, error.message);
    if (message !== undefined) assert.equal(error.details, message);
    return true;
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("InventoryService", () => {
  let h: InventoryHarness;
  let nextBook = 1000;
  /** A fresh book with `onHand` copies. */
  async function book(onHand: number): Promise<string> {
    const bookId = String(nextBook++);
    await h.db.insertInto("stock").values({ book_id: bookId, on_hand: onHand }).execute();
    return bookId;
  }
  const stock = async (bookId: string) => (await h.client.getStock({ bookId })).stock;

  before(async () => {
    h = await startInventoryHarness({ books: BOOKS });
  });
  after(() => h?.stop());

  test("backfills a stock row for every Catalog book, with the opening stock of its ISBN, once", async () => {
    const rows = await until("the backfill", async () => {
      const done = await h.db.selectFrom("catalog_backfill").select("completed_at").executeTakeFirst();
      return done === undefined ? undefined : h.db.selectFrom("stock").select(["book_id", "on_hand"]).execute();
    });
    const backfilled = rows.filter((r) => Number(r.book_id) <= BOOKS.length);
    assert.equal(backfilled.length, BOOKS.length);
    for (const { bookId, isbn } of BOOKS) {
      assert.equal(backfilled.find((r) => r.book_id === bookId)?.on_hand, opening.get(isbn), bookId);
    }
    assert.equal(h.catalogListCalls(), 3, "250 books in pages of 100");
    const first = await stock("1");
    assert.deepEqual(
      { available: first?.available, reserved: first?.reserved, onHand: first?.onHand },
      { available: opening.get(BOOKS[0]?.isbn ?? ""), reserved: 0, onHand: opening.get(BOOKS[0]?.isbn ?? "") },
    );
  });

  test("GetStock of a book it does not know is zeros; BatchGetStock answers in request order", async () => {
    const a = await book(4);
    const answer = await h.client.getStock({ bookId: "no-such-book" });
    assert.deepEqual(answer.stock, {
      bookId: "no-such-book",
      available: 0,
      reserved: 0,
      onHand: 0,
      updateTime: undefined,
    });
    const batch = await h.client.batchGetStock({ bookIds: ["no-such-book", a] });
    assert.deepEqual(
      batch.stocks.map((s) => [s.bookId, s.onHand]),
      [
        ["no-such-book", 0],
        [a, 4],
      ],
    );
    await assert.rejects(
      h.client.batchGetStock({ bookIds: [] }),
      rejects("INVALID_ARGUMENT", "book_ids must hold 1 to 100 ids"),
    );
    await assert.rejects(h.client.getStock({ bookId: "" }), rejects("INVALID_ARGUMENT", "book_id is required"));
    await assert.rejects(
      h.client.getStock({ bookId: "x".repeat(101) }),
      rejects("INVALID_ARGUMENT", "book_id must be at most 100 characters"),
    );
  });

  test("ListStock pages in book-id order and filters by availability", async () => {
    await until("the backfill", async () =>
      h.db.selectFrom("catalog_backfill").select("completed_at").executeTakeFirst(),
    );
    const all: string[] = [];
    let pageToken = "";
    do {
      const page = await h.client.listStock({ pageSize: 97, pageToken });
      all.push(...page.stocks.map((s) => s.bookId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    const count = await h.db.selectFrom("stock").select(sql<string>`count(*)`.as("n")).executeTakeFirstOrThrow();
    assert.equal(all.length, Number(count.n));
    assert.deepEqual(
      all,
      [...all].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
    );

    const empty = await h.client.listStock({ pageSize: 200, pageToken: "", maxAvailable: 0 });
    assert.ok(empty.stocks.length > 0);
    assert.ok(empty.stocks.every((s) => s.available === 0));
    const zeros = BOOKS.filter((b) => opening.get(b.isbn) === 0).map((b) => b.bookId);
    for (const id of zeros)
      assert.ok(
        empty.stocks.some((s) => s.bookId === id),
        id,
      );

    const first = await h.client.listStock({ pageSize: 10, pageToken: "", maxAvailable: 3 });
    await assert.rejects(
      h.client.listStock({ pageSize: 10, pageToken: first.nextPageToken }),
      rejects("INVALID_ARGUMENT", "Invalid page token"),
      "a token belongs to its filter",
    );
    await assert.rejects(
      h.client.listStock({ pageSize: 10, pageToken: "nonsense" }),
      rejects("INVALID_ARGUMENT", "Invalid page token"),
    );
    await assert.rejects(h.client.listStock({ pageSize: 201, pageToken: "" }), rejects("INVALID_ARGUMENT"));
  });

  test("AdjustStock applies once per key, keeps an audit row, and never removes reserved stock", async () => {
    const a = await book(5);
    const request = { bookId: a, delta: 3, reason: "delivery 1", idempotencyKey: `adj-${a}-1` };
    assert.equal((await h.client.adjustStock(request)).stock?.onHand, 8);
    assert.equal((await h.client.adjustStock(request)).stock?.onHand, 8, "a retry applies nothing");
    await assert.rejects(
      h.client.adjustStock({ ...request, delta: 4 }),
      rejects("ALREADY_EXISTS", "Idempotency key was used for a different adjustment"),
    );
    const audit = await h.db.selectFrom("stock_adjustments").selectAll().where("book_id", "=", a).execute();
    assert.equal(audit.length, 1);
    assert.deepEqual(
      { delta: audit[0]?.delta, reason: audit[0]?.reason, actor: audit[0]?.actor, after: audit[0]?.on_hand_after },
      { delta: 3, reason: "delivery 1", actor: "admin-1", after: 8 },
    );
    assert.ok(audit[0]?.created_at instanceof Date);

    await h.client.reserveStock({ reservationKey: `hold-${a}`, lines: [{ bookId: a, quantity: 6 }] });
    await assert.rejects(
      h.client.adjustStock({ bookId: a, delta: -3, reason: "damaged", idempotencyKey: `adj-${a}-2` }),
      rejects("FAILED_PRECONDITION", "Cannot remove stock that is reserved"),
    );
    assert.equal(
      (await h.client.adjustStock({ bookId: a, delta: -2, reason: "damaged", idempotencyKey: `adj-${a}-3` })).stock
        ?.available,
      0,
    );
    await assert.rejects(
      h.client.adjustStock({ bookId: "unknown-to-us", delta: -1, reason: "x", idempotencyKey: `adj-${a}-4` }),
      rejects("FAILED_PRECONDITION", "Cannot remove more stock than is on hand"),
    );
    await assert.rejects(
      h.client.adjustStock({ ...request, delta: 0, idempotencyKey: "k0" }),
      rejects("INVALID_ARGUMENT"),
    );
    await assert.rejects(
      h.client.adjustStock({ ...request, reason: "", idempotencyKey: "k1" }),
      rejects("INVALID_ARGUMENT", "reason is required"),
    );
    await assert.rejects(
      h.client.adjustStock({ ...request, reason: "r".repeat(201), idempotencyKey: "k2" }),
      rejects("INVALID_ARGUMENT"),
    );
  });

  test("ListStock and AdjustStock are for admins only", async () => {
    const anonymous = createClient(inventoryV1.InventoryServiceService, `127.0.0.1:${h.service.port}`, {
      logger: createLogger({ name: "anonymous", level: "silent" }),
      retry: false,
    });
    try {
      const request = { bookId: "1", delta: 1, reason: "r", idempotencyKey: "not-admin" };
      await assert.rejects(anonymous.adjustStock(request), rejects("UNAUTHENTICATED"));
      await assert.rejects(anonymous.adjustStock(request, { metadata: h.shopper }), rejects("PERMISSION_DENIED"));
      await assert.rejects(
        anonymous.listStock({ pageSize: 1, pageToken: "" }, { metadata: h.shopper }),
        rejects("PERMISSION_DENIED"),
      );
      assert.ok((await anonymous.getStock({ bookId: "1" })).stock, "reads are anonymous");
    } finally {
      anonymous.close();
    }
  });

  test("ReserveStock holds every line or none; a short line names each short book", async () => {
    const [a, b, c] = [await book(5), await book(2), await book(0)];
    const error = await h.client
      .reserveStock({
        reservationKey: `short-${a}`,
        lines: [
          { bookId: a, quantity: 5 },
          { bookId: b, quantity: 3 },
          { bookId: c, quantity: 1 },
          { bookId: "never-heard-of", quantity: 1 },
        ],
      })
      .then(
        () => assert.fail("reserved"),
        (e: unknown) => e,
      );
    assert.ok(error instanceof ClientError);
    assert.equal(error.codeName, "FAILED_PRECONDITION");
    assert.equal(error.details, "Not enough stock");
    const [detail] = readStatusDetails(error.metadata);
    assert.equal(detail?.typeUrl, "type.googleapis.com/google.rpc.PreconditionFailure");
    const failure = googleRpcErrorDetails.PreconditionFailure.decode(detail?.value ?? new Uint8Array());
    assert.deepEqual(
      failure.violations.map((v) => [v.type, v.subject]),
      [
        ["STOCK", b],
        ["STOCK", c],
        ["STOCK", "never-heard-of"],
      ].sort((x, y) => Buffer.compare(Buffer.from(x[1] ?? ""), Buffer.from(y[1] ?? ""))),
    );
    assert.equal((await stock(a))?.available, 5, "nothing held");
    assert.equal(
      await h.db.selectFrom("reservations").select("id").where("reservation_key", "=", `short-${a}`).executeTakeFirst(),
      undefined,
    );
  });

  test("ReserveStock is idempotent by key; Confirm, Release and Get behave as the proto says", async () => {
    const [a, b] = [await book(10), await book(10)];
    const lines = [
      { bookId: a, quantity: 2 },
      { bookId: b, quantity: 3 },
    ];
    const first = (await h.client.reserveStock({ reservationKey: `r-${a}`, lines })).reservation;
    assert.equal(first?.state, inventoryV1.Reservation_State.STATE_HELD);
    const again = (await h.client.reserveStock({ reservationKey: `r-${a}`, lines: [...lines].reverse() })).reservation;
    assert.equal(again?.reservationId, first?.reservationId, "same key, same lines: the same reservation");
    assert.deepEqual([(await stock(a))?.reserved, (await stock(b))?.reserved], [2, 3], "held once");
    await assert.rejects(
      h.client.reserveStock({ reservationKey: `r-${a}`, lines: [{ bookId: a, quantity: 1 }] }),
      rejects("ALREADY_EXISTS", "Reservation key was used for a different reservation"),
    );
    const expiresIn = (first?.expireTime?.seconds ?? 0) - (first?.createTime?.seconds ?? 0);
    assert.ok(expiresIn >= 899 && expiresIn <= 901, `15 minutes by default, got ${expiresIn} s`);

    const id = first?.reservationId ?? "";
    const confirmed = (await h.client.confirmReservation({ reservationId: id })).reservation;
    assert.equal(confirmed?.state, inventoryV1.Reservation_State.STATE_CONFIRMED);
    assert.deepEqual(
      [await stock(a), await stock(b)].map((s) => [s?.onHand, s?.reserved, s?.available]),
      [
        [8, 0, 8],
        [7, 0, 7],
      ],
    );
    assert.equal(
      (await h.client.confirmReservation({ reservationId: id })).reservation?.state,
      inventoryV1.Reservation_State.STATE_CONFIRMED,
    );
    await assert.rejects(
      h.client.releaseReservation({ reservationId: id }),
      rejects("FAILED_PRECONDITION", "Reservation is confirmed"),
    );

    const second = (await h.client.reserveStock({ reservationKey: `r2-${a}`, lines })).reservation;
    const released = (await h.client.releaseReservation({ reservationId: second?.reservationId ?? "" })).reservation;
    assert.equal(released?.state, inventoryV1.Reservation_State.STATE_RELEASED);
    assert.equal((await stock(a))?.available, 8, "given back");
    assert.equal(
      (await h.client.releaseReservation({ reservationId: second?.reservationId ?? "" })).reservation?.state,
      inventoryV1.Reservation_State.STATE_RELEASED,
    );
    await assert.rejects(
      h.client.confirmReservation({ reservationId: second?.reservationId ?? "" }),
      rejects("FAILED_PRECONDITION", "Reservation was released"),
    );
    const got = (await h.client.getReservation({ reservationId: id })).reservation;
    assert.deepEqual(
      got?.lines,
      [...lines].sort((x, y) => Buffer.compare(Buffer.from(x.bookId), Buffer.from(y.bookId))),
    );
    await assert.rejects(
      h.client.getReservation({ reservationId: "nope" }),
      rejects("NOT_FOUND", "Reservation not found"),
    );
    await assert.rejects(
      h.client.getReservation({ reservationId: "00000000-0000-4000-8000-000000000000" }),
      rejects("NOT_FOUND", "Reservation not found"),
    );
  });

  test("an expired reservation gives its stock back by itself and can no longer be confirmed", async () => {
    const a = await book(3);
    const held = (
      await h.client.reserveStock({
        reservationKey: `ttl-${a}`,
        lines: [{ bookId: a, quantity: 3 }],
        ttl: { seconds: 1, nanos: 0 },
      })
    ).reservation;
    assert.equal((await stock(a))?.available, 0);
    const expired = await until("the sweeper", async () => {
      const r = (await h.client.getReservation({ reservationId: held?.reservationId ?? "" })).reservation;
      return r?.state === inventoryV1.Reservation_State.STATE_EXPIRED ? r : undefined;
    });
    assert.equal(expired.reservationId, held?.reservationId);
    assert.deepEqual([(await stock(a))?.available, (await stock(a))?.reserved], [3, 0]);
    await assert.rejects(
      h.client.confirmReservation({ reservationId: held?.reservationId ?? "" }),
      rejects("FAILED_PRECONDITION", "Reservation has expired"),
    );
    assert.equal(
      (await h.client.releaseReservation({ reservationId: held?.reservationId ?? "" })).reservation?.state,
      inventoryV1.Reservation_State.STATE_EXPIRED,
      "releasing an expired one is a no-op",
    );
  });

  test("bad reservation requests are INVALID_ARGUMENT with a BadRequest naming the field", async () => {
    const cases: [inventoryV1.ReserveStockRequest, string][] = [
      [{ reservationKey: "", lines: [{ bookId: "1", quantity: 1 }] }, "reservation_key is required"],
      [{ reservationKey: "k", lines: [] }, "lines must hold 1 to 50 lines"],
      [{ reservationKey: "k", lines: [{ bookId: "1", quantity: 0 }] }, "lines[0].quantity must be between 1 and 100"],
      [{ reservationKey: "k", lines: [{ bookId: "1", quantity: 101 }] }, "lines[0].quantity must be between 1 and 100"],
      [
        {
          reservationKey: "k",
          lines: [
            { bookId: "1", quantity: 1 },
            { bookId: "1", quantity: 1 },
          ],
        },
        "lines must name each book once",
      ],
      [
        { reservationKey: "k", lines: [{ bookId: "a\u0000b", quantity: 1 }] },
        "lines[0].book_id must not contain control characters",
      ],
      [
        { reservationKey: "k", lines: [{ bookId: "1", quantity: 1 }], ttl: { seconds: 0, nanos: 0 } },
        "ttl must be between 1 s and 1 h",
      ],
      [
        { reservationKey: "k", lines: [{ bookId: "1", quantity: 1 }], ttl: { seconds: 3601, nanos: 0 } },
        "ttl must be between 1 s and 1 h",
      ],
    ];
    for (const [request, message] of cases) {
      const error = await h.client.reserveStock(request).then(
        () => assert.fail(message),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ClientError);
      assert.equal(error.codeName, "INVALID_ARGUMENT");
      assert.equal(error.details, message);
      const [detail] = readStatusDetails(error.metadata);
      assert.equal(detail?.typeUrl, "type.googleapis.com/google.rpc.BadRequest");
    }
  });

  test("the CHECK constraints refuse negative availability whatever the query", async () => {
    const a = await book(2);
    await assert.rejects(
      sql`update stock set reserved = on_hand + 1 where book_id = ${a}`.execute(h.db),
      (e: Error & { code?: string; constraint?: string }) =>
        e.code === "23514" && e.constraint === "stock_reserved_within_on_hand",
    );
    await assert.rejects(sql`update stock set on_hand = -1, reserved = 0 where book_id = ${a}`.execute(h.db), {
      code: "23514",
    });
  });

  test("concurrent reservations over overlapping books in every order never deadlock", async () => {
    const ids = [await book(1000), await book(1000), await book(1000), await book(1000)];
    const calls = Array.from({ length: 60 }, (_, i) => {
      const picked = [ids[i % 4], ids[(i + 1) % 4], ids[(i + 3) % 4]] as string[];
      const lines = (i % 2 === 0 ? picked : picked.reverse()).map((bookId) => ({ bookId, quantity: 1 }));
      return h.client.reserveStock({ reservationKey: `dl-${ids[0]}-${i}`, lines }, { timeoutMs: 60_000 });
    });
    const results = await Promise.allSettled(calls);
    const failures = results.filter((r) => r.status === "rejected");
    assert.deepEqual(failures, [], "no ABORTED (deadlock) or other failure");
    const reserved = (await h.client.batchGetStock({ bookIds: ids })).stocks.map((s) => s.reserved);
    assert.equal(
      reserved.reduce((x, y) => x + y, 0),
      180,
    );
  });
});
