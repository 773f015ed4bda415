// Injection strings through every text field a client can set: each is stored and returned
// exactly, or refused with the documented status; never INTERNAL, and nothing else changes.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { sql } from "@obfy/kit/db";
import { injectionCases } from "@obfy/kit/db/testing";
import type { paymentsV1 } from "@obfy/protos";
import { type PaymentsHarness, startPaymentsHarness } from "./fixtures/payments-harness.js";

function refusedAs(error: unknown, allowed: readonly string[]): void {
  assert.ok(error instanceof ClientError, String(error));
  assert.ok(allowed.includes(error.codeName), `${error.codeName}: ${error.details}`);
}

describe("injection strings", () => {
  let h: PaymentsHarness;
  let paymentMethodId = "";
  let paymentId = "";
  const year = new Date().getUTCFullYear() + 1;
  const tables = () =>
    sql<{ n: string }>`select count(*) as n from information_schema.tables where table_schema = 'public'`
      .execute(h.db)
      .then((r) => r.rows[0]?.n);
  let tableCount: string | undefined;

  before(async () => {
    h = await startPaymentsHarness();
    const { paymentMethod } = await h.client.createPaymentMethod(
      { card: { number: "4242424242424242", expMonth: 1, expYear: year, cvc: "123" } },
      { metadata: await h.shopper("sentinel") },
    );
    paymentMethodId = paymentMethod?.paymentMethodId ?? "";
    const { payment } = await h.client.authorizePayment({
      idempotencyKey: "sentinel",
      orderId: "sentinel",
      paymentMethodId,
      ownerId: "sentinel",
      amount: { currencyCode: "USD", amountMinor: 700 },
    });
    paymentId = payment?.paymentId ?? "";
    tableCount = await tables();
  });
  after(async () => {
    assert.equal(await tables(), tableCount);
    const sentinel = await h.db
      .selectFrom("payments")
      .selectAll()
      .where("id", "=", paymentId)
      .executeTakeFirstOrThrow();
    assert.deepEqual([sentinel.status, sentinel.amount_minor], ["authorized", "700"]);
    await h?.stop();
  });

  test("CreatePaymentMethod: every card field refused with INVALID_ARGUMENT", async () => {
    const sample: paymentsV1.CreatePaymentMethodRequest = {
      card: { number: "4242424242424242", expMonth: 1, expYear: year, cvc: "123" },
    };
    for (const { request } of injectionCases(sample)) {
      await assert.rejects(h.client.createPaymentMethod(request, { metadata: await h.shopper("s") }), (e: unknown) => {
        refusedAs(e, ["INVALID_ARGUMENT"]);
        return true;
      });
    }
  });

  test("AuthorizePayment: ids stored exactly, or refused; unknown methods NOT_FOUND", async () => {
    const sample: paymentsV1.AuthorizePaymentRequest = {
      idempotencyKey: "k",
      orderId: "o",
      paymentMethodId,
      ownerId: "sentinel",
      amount: { currencyCode: "USD", amountMinor: 100 },
    };
    for (const { path, value, request } of injectionCases(sample)) {
      const keyed = path === "idempotencyKey" ? request : { ...request, idempotencyKey: randomUUID() };
      try {
        const { payment } = await h.client.authorizePayment(keyed);
        if (path === "orderId") assert.equal(payment?.orderId, value);
        if (path === "idempotencyKey") {
          const row = await h.db
            .selectFrom("payments")
            .select("authorize_key")
            .where("id", "=", payment?.paymentId ?? "")
            .executeTakeFirst();
          assert.equal(row?.authorize_key, value);
        }
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT", "NOT_FOUND"]);
      }
    }
  });

  test("Capture, Void, Refund, Get and List: refused or answered, never INTERNAL", async () => {
    for (const { request } of injectionCases<paymentsV1.CapturePaymentRequest>({
      idempotencyKey: "k",
      paymentId: "p",
    })) {
      for (const call of [h.client.capturePayment, h.client.voidPayment, h.client.refundPayment]) {
        await assert.rejects(call(request), (e: unknown) => {
          refusedAs(e, ["INVALID_ARGUMENT", "NOT_FOUND"]);
          return true;
        });
      }
    }
    for (const { request } of injectionCases<paymentsV1.GetPaymentRequest>({ paymentId: "p" })) {
      await assert.rejects(h.client.getPayment(request), (e: unknown) => {
        refusedAs(e, ["INVALID_ARGUMENT", "NOT_FOUND"]);
        return true;
      });
    }
    for (const { request } of injectionCases<paymentsV1.ListPaymentsRequest>({
      orderId: "o",
      pageSize: 0,
      pageToken: "",
    })) {
      try {
        const { payments } = await h.client.listPayments(request);
        for (const payment of payments) assert.equal(payment.orderId, request.orderId);
      } catch (error) {
        refusedAs(error, ["INVALID_ARGUMENT"]);
      }
    }
  });
});
