// The PaymentsService's RPCs: validation, the simulated processor outside any transaction, one
// transaction per change, answers in the proto's shapes.
import { randomBytes } from "node:crypto";
import type { CallContext } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import { principalOf } from "@obfy/kit/security";
import type { ServiceImplementation } from "@obfy/kit/server";
import { paymentsV1 } from "@obfy/protos";
import {
  findPayment,
  findPaymentByKey,
  findPaymentMethod,
  insertPaymentMethod,
  listPayments,
  type PaymentMethodRow,
  type PaymentRow,
} from "./db/payments.js";
import type { OperationKind, PaymentState, PaymentsSchema } from "./db/schema.js";
import { authorizeKeyUsed, invalidPageToken, paymentMethodNotFound, paymentNotFound } from "./errors.js";
import { type AuthorizationRequest, amountOf, applyOperation, recordAuthorization } from "./payments.js";
import type { Processor } from "./processor.js";
import { checkAmount, checkCard, checkId, checkPageSize, isUuid } from "./validation.js";

/** What the handlers need. */
export interface PaymentsHandlerDeps {
  readonly database: Database<PaymentsSchema>;
  readonly bus: Pick<EventBus<PaymentsSchema>, "publish">;
  readonly processor: Processor;
  /** The clock for expiry checks (tests pass their own). */
  readonly now?: () => Date;
}

function timestamp(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}

const STATUSES: Record<PaymentState, paymentsV1.PaymentStatus> = {
  authorized: paymentsV1.PaymentStatus.PAYMENT_STATUS_AUTHORIZED,
  declined: paymentsV1.PaymentStatus.PAYMENT_STATUS_DECLINED,
  failed: paymentsV1.PaymentStatus.PAYMENT_STATUS_FAILED,
  captured: paymentsV1.PaymentStatus.PAYMENT_STATUS_CAPTURED,
  voided: paymentsV1.PaymentStatus.PAYMENT_STATUS_VOIDED,
  refunded: paymentsV1.PaymentStatus.PAYMENT_STATUS_REFUNDED,
};

/** A stored payment method in the API's shape. */
export function paymentMethodOf(row: PaymentMethodRow): paymentsV1.PaymentMethod {
  return {
    paymentMethodId: row.id,
    brand: row.brand,
    last4: row.last4,
    expMonth: row.exp_month,
    expYear: row.exp_year,
    ownerId: row.owner_id,
    createTime: timestamp(row.created_at),
  };
}

/** A stored payment in the API's shape. */
export function paymentOf(row: PaymentRow): paymentsV1.Payment {
  return {
    paymentId: row.id,
    orderId: row.order_id,
    paymentMethodId: row.payment_method_id,
    cardBrand: row.card_brand,
    cardLast4: row.card_last4,
    amount: amountOf(row),
    status: STATUSES[row.status],
    failureMessage: row.failure_message ?? "",
    failureCode: row.failure_code ?? "",
    createTime: timestamp(row.created_at),
    updateTime: timestamp(row.updated_at),
  };
}

/** True when a stored payment answers `request` (a retry with the same key). */
function sameAuthorization(payment: PaymentRow, request: AuthorizationRequest, paymentMethodId: string): boolean {
  return (
    payment.order_id === request.orderId &&
    payment.owner_id === request.ownerId &&
    payment.payment_method_id === paymentMethodId &&
    payment.currency_code === request.amount.currencyCode &&
    Number(payment.amount_minor) === request.amount.amountMinor
  );
}

function encodePageToken(seq: string, orderId: string): string {
  return Buffer.from(JSON.stringify({ seq, orderId })).toString("base64url");
}

function decodePageToken(value: string, orderId: string): string | undefined {
  if (value === "") return undefined;
  try {
    const token = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as { seq?: unknown; orderId?: unknown };
    if (typeof token.seq === "string" && /^[0-9]{1,18}$/.test(token.seq) && token.orderId === orderId) return token.seq;
  } catch {
    // Not ours: refused below.
  }
  throw invalidPageToken();
}

/** A new payment method id: "pm_" and 24 URL-safe characters. */
export function newPaymentMethodId(): string {
  return `pm_${randomBytes(18).toString("base64url")}`;
}

/** Creates the PaymentsService handlers. */
export function createPaymentsHandlers(
  deps: PaymentsHandlerDeps,
): ServiceImplementation<typeof paymentsV1.PaymentsServiceService> {
  const { database, bus, processor } = deps;
  const db = database.kysely;
  const now = deps.now ?? (() => new Date());

  async function operate(
    request: { readonly idempotencyKey: string; readonly paymentId: string },
    kind: OperationKind,
  ): Promise<{ payment: paymentsV1.Payment }> {
    const key = checkId("idempotency_key", request.idempotencyKey);
    const paymentId = checkId("payment_id", request.paymentId);
    if (!isUuid(paymentId)) throw paymentNotFound();
    const row = await database.transaction(async (trx) => {
      const payment = await findPayment(trx, paymentId, { lock: true });
      if (payment === undefined) throw paymentNotFound();
      return applyOperation(trx, bus, payment, kind, key);
    });
    return { payment: paymentOf(row) };
  }

  return {
    async createPaymentMethod(request, context: CallContext) {
      const card = checkCard(request.card, now());
      const row = await insertPaymentMethod(db, {
        id: newPaymentMethodId(),
        owner_id: principalOf(context)?.subject ?? "anonymous",
        brand: card.brand,
        last4: card.last4,
        exp_month: card.expMonth,
        exp_year: card.expYear,
        behaviour: card.behaviour,
      });
      return { paymentMethod: paymentMethodOf(row) };
    },

    async authorizePayment(request, context) {
      const authorization: AuthorizationRequest = {
        key: checkId("idempotency_key", request.idempotencyKey),
        orderId: checkId("order_id", request.orderId),
        ownerId: checkId("owner_id", request.ownerId),
        amount: checkAmount("amount", request.amount),
      };
      const paymentMethodId = checkId("payment_method_id", request.paymentMethodId);
      const answerOf = (payment: PaymentRow) => {
        if (!sameAuthorization(payment, authorization, paymentMethodId)) throw authorizeKeyUsed();
        return { payment: paymentOf(payment) };
      };
      const earlier = await findPaymentByKey(db, authorization.key);
      if (earlier !== undefined) return answerOf(earlier);
      const method = await findPaymentMethod(db, paymentMethodId);
      if (method === undefined || method.owner_id !== authorization.ownerId) throw paymentMethodNotFound();
      // The processor is asked outside any transaction: no connection waits on it.
      const answer = await processor.authorize(method.behaviour, context.signal);
      const row = await database.transaction(async (trx) => {
        const recorded = await recordAuthorization(trx, bus, authorization, method, paymentMethodId, answer);
        return recorded ?? (await findPaymentByKey(trx, authorization.key));
      });
      if (row === undefined) throw new Error(`payment key ${authorization.key} conflicted but has no row`);
      return answerOf(row);
    },

    capturePayment: (request) => operate(request, "capture"),
    voidPayment: (request) => operate(request, "void"),
    refundPayment: (request) => operate(request, "refund"),

    async getPayment(request) {
      const paymentId = checkId("payment_id", request.paymentId);
      if (!isUuid(paymentId)) throw paymentNotFound();
      const row = await findPayment(db, paymentId);
      if (row === undefined) throw paymentNotFound();
      return { payment: paymentOf(row) };
    },

    async listPayments(request) {
      const limit = checkPageSize(request.pageSize);
      const orderId = request.orderId === "" ? undefined : checkId("order_id", request.orderId);
      const beforeSeq = decodePageToken(request.pageToken, request.orderId);
      const rows = await listPayments(db, { orderId, beforeSeq, limit: limit + 1 });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        payments: page.map(paymentOf),
        nextPageToken: rows.length > limit && last !== undefined ? encodePageToken(last.seq, request.orderId) : "",
      };
    },
  };
}
