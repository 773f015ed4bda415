// The PaymentsService against real PostgreSQL (and the pg-boss bus), through gRPC: test cards,
// field checks, authorize / capture / void / refund and their idempotency keys, access rules,
// and the card number never reaching the database or the log.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { ClientError, createClient } from "@obfy/kit/client";
import { createLogger, readStatusDetails } from "@obfy/kit/core";
import { sql } from "@obfy/kit/db";
import { googleRpcErrorDetails, paymentsV1 } from "@obfy/protos";
import { type PaymentsHarness, startPaymentsHarness } from "./fixtures/payments-harness.js";

const { PaymentStatus } = paymentsV1;
const YEAR = new Date().getUTCFullYear();
const USD = (amountMinor: number) => ({ currencyCode: "USD", amountMinor });

function rejects(code: string, message?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.codeName, code, error.message);
    if (message !== undefined) assert.equal(error.details, message);
    return true;
  };
}

/** The field violations of an INVALID_ARGUMENT. */
function violations(error: unknown): { field: string; description: string }[] {
  assert.ok(error instanceof ClientError, String(error));
  assert.equal(error.codeName, "INVALID_ARGUMENT", error.message);
  const [detail] = readStatusDetails(error.metadata);
  assert.equal(detail?.typeUrl, "type.googleapis.com/google.rpc.BadRequest");
  return googleRpcErrorDetails.BadRequest.decode(detail.value).fieldViolations.map((v) => ({
    field: v.field,
    description: v.description,
  }));
}

describe("PaymentsService", () => {
  let h: PaymentsHarness;
  let owner: Record<string, string>;
  before(async () => {
    h = await startPaymentsHarness();
    owner = await h.shopper("shopper-1");
  });
  after(() => h?.stop());

  async function method(number: string, cvc = "123", ownerMetadata = owner): Promise<paymentsV1.PaymentMethod> {
    const response = await h.client.createPaymentMethod(
      { card: { number, expMonth: 12, expYear: YEAR + 2, cvc } },
      { metadata: ownerMetadata },
    );
    assert.ok(response.paymentMethod);
    return response.paymentMethod;
  }

  async function authorize(paymentMethodId: string, amountMinor = 2599, key = randomUUID(), orderId = randomUUID()) {
    const { payment } = await h.client.authorizePayment({
      idempotencyKey: key,
      orderId,
      paymentMethodId,
      ownerId: "shopper-1",
      amount: USD(amountMinor),
    });
    assert.ok(payment);
    return payment;
  }

  test("CreatePaymentMethod keeps the brand, the last four and a pm_ token", async () => {
    const cases: [string, string, string, string][] = [
      ["4242 4242 4242 4242", "123", "visa", "4242"],
      ["5555-5555-5555-4444", "123", "mastercard", "4444"],
      ["3782 822463 10005", "1234", "amex", "0005"],
      ["6011 1111 1111 1117", "123", "discover", "1117"],
    ];
    for (const [number, cvc, brand, last4] of cases) {
      const pm = await method(number, cvc);
      assert.match(pm.paymentMethodId, /^pm_[A-Za-z0-9_-]{24}$/);
      assert.equal(pm.brand, brand);
      assert.equal(pm.last4, last4);
      assert.equal(pm.ownerId, "shopper-1");
      assert.deepEqual([pm.expMonth, pm.expYear], [12, YEAR + 2]);
    }
  });

  test("a bad card gets every field's problem at once, on the proto's field names", async () => {
    const now = new Date();
    const lastMonth = now.getUTCMonth() === 0 ? [12, YEAR - 1] : [now.getUTCMonth(), YEAR];
    const cases: [paymentsV1.CardDetails, { field: string; description: string }[]][] = [
      [
        { number: "4242 4242 4242 4241", expMonth: 13, expYear: 99, cvc: "12" },
        [
          { field: "number", description: "Card number is not valid" },
          { field: "exp_month", description: "Expiry month is not valid" },
          { field: "exp_year", description: "Expiry year is not valid" },
          { field: "cvc", description: "Security code is not valid" },
        ],
      ],
      [
        { number: "4242424242424242", expMonth: lastMonth[0] as number, expYear: lastMonth[1] as number, cvc: "123" },
        [{ field: "exp_year", description: "Card has expired" }],
      ],
      [
        { number: "4242 abcd 4242 4242", expMonth: 1, expYear: YEAR + 1, cvc: "123" },
        [{ field: "number", description: "Card number is not valid" }],
      ],
      [
        { number: "42424242424", expMonth: 1, expYear: YEAR + 1, cvc: "123" },
        [{ field: "number", description: "Card number is not valid" }],
      ],
      [
        { number: "378282246310005", expMonth: 1, expYear: YEAR + 1, cvc: "123" },
        [{ field: "cvc", description: "Security code is not valid" }],
      ],
      [
        { number: "4242424242424242", expMonth: 1, expYear: YEAR + 1, cvc: "1234" },
        [{ field: "cvc", description: "Security code is not valid" }],
      ],
    ];
    for (const [card, expected] of cases) {
      const error = await h.client.createPaymentMethod({ card }, { metadata: owner }).then(
        () => assert.fail(JSON.stringify(card)),
        (e: unknown) => e,
      );
      assert.deepEqual(violations(error), expected);
      assert.equal((error as ClientError).details, expected.map((v) => v.description).join("; "));
    }
    // This month is still valid (a card is good through the end of its month).
    const thisMonth = await h.client.createPaymentMethod(
      { card: { number: "4242424242424242", expMonth: now.getUTCMonth() + 1, expYear: YEAR, cvc: "123" } },
      { metadata: owner },
    );
    assert.ok(thisMonth.paymentMethod);
    await assert.rejects(
      h.client.createPaymentMethod({}, { metadata: owner }),
      rejects("INVALID_ARGUMENT", "card is required"),
    );
  });

  test("the test cards: success, decline, insufficient funds, processing error, timeout", async () => {
    const cases: [string, paymentsV1.PaymentStatus, string, string][] = [
      ["4242424242424242", PaymentStatus.PAYMENT_STATUS_AUTHORIZED, "", ""],
      ["5555555555554444", PaymentStatus.PAYMENT_STATUS_AUTHORIZED, "", ""],
      ["4000000000000002", PaymentStatus.PAYMENT_STATUS_DECLINED, "card_declined", "Your card was declined"],
      [
        "4000000000009995",
        PaymentStatus.PAYMENT_STATUS_DECLINED,
        "insufficient_funds",
        "Your card has insufficient funds",
      ],
      [
        "4000000000000119",
        PaymentStatus.PAYMENT_STATUS_FAILED,
        "processing_error",
        "The payment could not be processed; nothing was charged",
      ],
      [
        "4000000000000259",
        PaymentStatus.PAYMENT_STATUS_FAILED,
        "timeout",
        "The payment processor did not answer in time; nothing was charged",
      ],
    ];
    for (const [number, status, code, message] of cases) {
      const pm = await method(number);
      const started = Date.now();
      const payment = await authorize(pm.paymentMethodId);
      const took = Date.now() - started;
      assert.equal(payment.status, status, number);
      assert.equal(payment.failureCode, code);
      assert.equal(payment.failureMessage, message);
      assert.equal(payment.cardLast4, number.slice(-4));
      assert.deepEqual(payment.amount, USD(2599));
      if (code === "timeout") assert.ok(took >= 290, `timed out after PAYMENTS_PROCESSOR_TIMEOUT_MS, took ${took} ms`);
    }
  });

  test("AuthorizePayment is idempotent by key; another request with a used key is ALREADY_EXISTS", async () => {
    const pm = await method("4242424242424242");
    const key = randomUUID();
    const orderId = randomUUID();
    const first = await authorize(pm.paymentMethodId, 1000, key, orderId);
    const again = await Promise.all([1, 2, 3].map(() => authorize(pm.paymentMethodId, 1000, key, orderId)));
    for (const payment of again) assert.equal(payment.paymentId, first.paymentId);
    await assert.rejects(
      authorize(pm.paymentMethodId, 1001, key, orderId),
      rejects("ALREADY_EXISTS", "Idempotency key was used for a different payment"),
    );
    const rows = await h.db.selectFrom("payments").select("id").where("authorize_key", "=", key).execute();
    assert.equal(rows.length, 1);
    // Concurrent first attempts with one key: one payment.
    const racedKey = randomUUID();
    const raced = await Promise.all([1, 2, 3, 4].map(() => authorize(pm.paymentMethodId, 500, racedKey, orderId)));
    assert.equal(new Set(raced.map((p) => p.paymentId)).size, 1);
  });

  test("only the owner's payment methods pay; unknown ones are NOT_FOUND", async () => {
    const other = await method("4242424242424242", "123", await h.shopper("shopper-2"));
    await assert.rejects(authorize(other.paymentMethodId), rejects("NOT_FOUND", "Payment method not found"));
    await assert.rejects(authorize("pm_nosuchmethodnosuchmetho"), rejects("NOT_FOUND", "Payment method not found"));
    const pm = await method("4242424242424242");
    for (const [amount, message] of [
      [{ currencyCode: "EUR", amountMinor: 100 }, "amount must be in USD"],
      [USD(0), "amount.amount_minor must be between 1 and 100000000"],
      [undefined, "amount is required"],
    ] as const) {
      await assert.rejects(
        h.client.authorizePayment({
          idempotencyKey: randomUUID(),
          orderId: "o",
          paymentMethodId: pm.paymentMethodId,
          ownerId: "shopper-1",
          amount,
        }),
        rejects("INVALID_ARGUMENT", message),
      );
    }
  });

  test("capture, void and refund move the payment once each, idempotent by key", async () => {
    const pm = await method("4242424242424242");
    const captured = await authorize(pm.paymentMethodId);
    const captureKey = randomUUID();
    const c1 = await h.client.capturePayment({ idempotencyKey: captureKey, paymentId: captured.paymentId });
    assert.equal(c1.payment?.status, PaymentStatus.PAYMENT_STATUS_CAPTURED);
    // The same key again, another key (a no-op), and the key for another kind.
    assert.equal(
      (await h.client.capturePayment({ idempotencyKey: captureKey, paymentId: captured.paymentId })).payment?.status,
      PaymentStatus.PAYMENT_STATUS_CAPTURED,
    );
    assert.equal(
      (await h.client.capturePayment({ idempotencyKey: randomUUID(), paymentId: captured.paymentId })).payment?.status,
      PaymentStatus.PAYMENT_STATUS_CAPTURED,
    );
    await assert.rejects(
      h.client.refundPayment({ idempotencyKey: captureKey, paymentId: captured.paymentId }),
      rejects("ALREADY_EXISTS", "Idempotency key was used for a different request"),
    );
    await assert.rejects(
      h.client.voidPayment({ idempotencyKey: randomUUID(), paymentId: captured.paymentId }),
      rejects("FAILED_PRECONDITION", "Payment is already captured"),
    );
    const refundKey = randomUUID();
    assert.equal(
      (await h.client.refundPayment({ idempotencyKey: refundKey, paymentId: captured.paymentId })).payment?.status,
      PaymentStatus.PAYMENT_STATUS_REFUNDED,
    );
    assert.equal(
      (await h.client.refundPayment({ idempotencyKey: refundKey, paymentId: captured.paymentId })).payment?.status,
      PaymentStatus.PAYMENT_STATUS_REFUNDED,
    );

    const voided = await authorize(pm.paymentMethodId);
    assert.equal(
      (await h.client.voidPayment({ idempotencyKey: randomUUID(), paymentId: voided.paymentId })).payment?.status,
      PaymentStatus.PAYMENT_STATUS_VOIDED,
    );
    await assert.rejects(
      h.client.capturePayment({ idempotencyKey: randomUUID(), paymentId: voided.paymentId }),
      rejects("FAILED_PRECONDITION", "Payment was voided"),
    );
    await assert.rejects(
      h.client.refundPayment({ idempotencyKey: randomUUID(), paymentId: voided.paymentId }),
      rejects("FAILED_PRECONDITION", "Payment is not captured"),
    );
    const declined = await authorize((await method("4000000000000002")).paymentMethodId);
    await assert.rejects(
      h.client.capturePayment({ idempotencyKey: randomUUID(), paymentId: declined.paymentId }),
      rejects("FAILED_PRECONDITION", "Payment is not authorized"),
    );
    for (const paymentId of ["nope", randomUUID()]) {
      await assert.rejects(
        h.client.capturePayment({ idempotencyKey: randomUUID(), paymentId }),
        rejects("NOT_FOUND", "Payment not found"),
      );
    }
    // Every transition published once: captured, refunded, voided.
    const events = await h.db
      .selectFrom("outbox")
      .select(["type", "subject"])
      .where("subject", "in", [captured.orderId, voided.orderId])
      .execute();
    const types = events.map((e) => e.type.replace("bookstore.payments.events.v1.", "")).sort();
    assert.deepEqual(types, [
      "PaymentAuthorized",
      "PaymentAuthorized",
      "PaymentCaptured",
      "PaymentRefunded",
      "PaymentVoided",
    ]);
  });

  test("concurrent captures with different keys charge once", async () => {
    const pm = await method("4242424242424242");
    const payment = await authorize(pm.paymentMethodId);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        h.client.capturePayment({ idempotencyKey: randomUUID(), paymentId: payment.paymentId }),
      ),
    );
    for (const answer of answers) assert.equal(answer.payment?.status, PaymentStatus.PAYMENT_STATUS_CAPTURED);
    const captures = await h.db
      .selectFrom("outbox")
      .select("event_id")
      .where("subject", "=", payment.orderId)
      .where("type", "=", "bookstore.payments.events.v1.PaymentCaptured")
      .execute();
    assert.equal(captures.length, 1);
  });

  test("GetPayment and ListPayments: admins only, newest first, paged", async () => {
    const pm = await method("4242424242424242");
    const orderId = randomUUID();
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await authorize(pm.paymentMethodId, 100 + i, randomUUID(), orderId));
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await h.client.listPayments({ orderId, pageSize: 2, pageToken });
      seen.push(...page.payments.map((p) => p.paymentId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    assert.deepEqual(seen, made.map((p) => p.paymentId).reverse());
    assert.equal(
      (await h.client.getPayment({ paymentId: made[0]?.paymentId ?? "" })).payment?.amount?.amountMinor,
      100,
    );
    await assert.rejects(
      h.client.listPayments({ orderId: "", pageSize: 0, pageToken: "bad" }),
      rejects("INVALID_ARGUMENT", "Invalid page token"),
    );
    await assert.rejects(h.client.getPayment({ paymentId: randomUUID() }), rejects("NOT_FOUND", "Payment not found"));

    const anonymous = createClient(paymentsV1.PaymentsServiceService, `127.0.0.1:${h.service.port}`, {
      logger: createLogger({ name: "anonymous", level: "silent" }),
      retry: false,
    });
    try {
      await assert.rejects(
        anonymous.listPayments({ orderId: "", pageSize: 1, pageToken: "" }, { metadata: owner }),
        rejects("PERMISSION_DENIED"),
      );
      await assert.rejects(
        anonymous.getPayment({ paymentId: made[0]?.paymentId ?? "" }, { metadata: owner }),
        rejects("PERMISSION_DENIED"),
      );
      await assert.rejects(
        anonymous.createPaymentMethod({
          card: { number: "4242424242424242", expMonth: 1, expYear: YEAR + 1, cvc: "123" },
        }),
        rejects("UNAUTHENTICATED"),
      );
    } finally {
      anonymous.close();
    }
  });

  test("card numbers are in neither the database (pg_dump) nor the log", async () => {
    const numbers = [
      "4242424242424242",
      "4000000000000002",
      "4000000000000119",
      "4000000000000259",
      "5555555555554444",
    ];
    for (const number of numbers)
      await authorize((await method(number.replace(/(\d{4})/g, "$1 ").trim())).paymentMethodId);
    // A bad card and a failed call log lines too.
    await h.client
      .createPaymentMethod(
        { card: { number: "4242424242424241", expMonth: 1, expYear: YEAR + 1, cvc: "1" } },
        { metadata: owner },
      )
      .catch(() => {});
    const { stdout: dump } = await promisify(execFile)("pg_dump", ["--data-only", h.database.url], {
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.ok(dump.includes("4242"), "the dump has the data (last four digits)");
    const log = h.logText();
    assert.ok(log.length > 0, "the service logged");
    for (const number of [...numbers, "4242424242424241"]) {
      const spaced = number.replace(/(\d{4})/g, "$1 ").trim();
      for (const form of [number, spaced]) {
        assert.ok(!dump.includes(form), `${form} in the database dump`);
        assert.ok(!log.includes(form), `${form} in the log`);
      }
    }
    // Nor the middle digits anywhere in a column (only the last four are kept).
    const columns = await sql<{ t: string }>`select row_to_json(p)::text as t from payment_methods p`.execute(h.db);
    for (const row of columns.rows)
      assert.ok(!/[0-9]{5,}/.test(row.t.replace(/"exp_year":\d+|"created_at":"[^"]*"/g, "")), row.t);
  });
});
