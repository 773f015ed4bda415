// What happens to a payment: authorization through the simulated processor, then capture, void
// or refund, each under a row lock in one transaction with the event that tells Orders. Used by
// the RPCs and by the saga's handlers alike.
import { randomUUID } from "node:crypto";
import type { Transaction } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import { paymentsEventsV1 } from "@obfy/protos";
import {
  findOperation,
  insertOperation,
  insertPayment,
  type PaymentMethodRow,
  type PaymentRow,
  setPaymentStatus,
} from "./db/payments.js";
import type { OperationKind, PaymentsSchema } from "./db/schema.js";
import {
  operationKeyUsed,
  paymentAlreadyCaptured,
  paymentAlreadyVoided,
  paymentNotAuthorized,
  paymentNotCaptured,
} from "./errors.js";
import type { AuthorizationAnswer } from "./processor.js";

type Trx = Transaction<PaymentsSchema>;
type Bus = Pick<EventBus<PaymentsSchema>, "publish">;

/** The key the saga authorizes an order's payment under (docs/architecture.md). */
export function orderAuthorizeKey(orderId: string): string {
  return `authorize:${orderId}`;
}

/** A payment's amount. */
export function amountOf(payment: PaymentRow): { currencyCode: string; amountMinor: number } {
  return { currencyCode: payment.currency_code, amountMinor: Number(payment.amount_minor) };
}

/** What an authorization asks for. */
export interface AuthorizationRequest {
  readonly key: string;
  readonly orderId: string;
  readonly ownerId: string;
  readonly amount: { readonly currencyCode: string; readonly amountMinor: number };
}

/**
 * Records the processor's answer as a payment under `request.key` and publishes
 * PaymentAuthorized or PaymentRefused; undefined when the key was taken meanwhile (the caller
 * reads the winner). `method` undefined: the payment method was not found (a FAILED payment).
 */
export async function recordAuthorization(
  trx: Trx,
  bus: Bus,
  request: AuthorizationRequest,
  method: PaymentMethodRow | undefined,
  paymentMethodId: string,
  answer: AuthorizationAnswer,
): Promise<PaymentRow | undefined> {
  const refused = answer.outcome !== "approved";
  const payment = await insertPayment(trx, {
    id: randomUUID(),
    authorizeKey: request.key,
    orderId: request.orderId,
    ownerId: request.ownerId,
    paymentMethodId,
    cardBrand: method?.brand ?? "unknown",
    cardLast4: method?.last4 ?? "",
    amountMinor: request.amount.amountMinor,
    currencyCode: request.amount.currencyCode,
    status: answer.outcome === "approved" ? "authorized" : answer.outcome,
    failureCode: refused ? answer.code : null,
    failureMessage: refused ? answer.message : null,
  });
  if (payment !== undefined) await publishAuthorizationAnswer(trx, bus, payment);
  return payment;
}

/** Publishes what an authorization came to: PaymentAuthorized, or PaymentRefused for DECLINED and FAILED. */
export async function publishAuthorizationAnswer(trx: Trx, bus: Bus, payment: PaymentRow): Promise<void> {
  const subject = { subject: payment.order_id };
  if (payment.status === "declined" || payment.status === "failed") {
    await bus.publish(
      trx,
      paymentsEventsV1.PaymentRefused,
      {
        orderId: payment.order_id,
        paymentId: payment.id,
        failureCode: payment.failure_code ?? "",
        failureMessage: payment.failure_message ?? "",
        declined: payment.status === "declined",
        cardBrand: payment.card_brand,
        cardLast4: payment.card_last4,
      },
      subject,
    );
    return;
  }
  await bus.publish(
    trx,
    paymentsEventsV1.PaymentAuthorized,
    {
      orderId: payment.order_id,
      paymentId: payment.id,
      amount: amountOf(payment),
      cardBrand: payment.card_brand,
      cardLast4: payment.card_last4,
    },
    subject,
  );
}

/**
 * Applies `kind` to a payment locked by the caller, unless `key` already did: a key seen before
 * for the same kind and payment answers with the payment as it is; for anything else it is
 * ALREADY_EXISTS. A state that allows the change moves on and publishes its event; the state
 * the change leads to is a no-op; anything else is FAILED_PRECONDITION.
 */
export async function applyOperation(
  trx: Trx,
  bus: Bus,
  payment: PaymentRow,
  kind: OperationKind,
  key: string,
): Promise<PaymentRow> {
  if (!(await insertOperation(trx, { key, kind, paymentId: payment.id }))) {
    const earlier = await findOperation(trx, key);
    if (earlier === undefined || earlier.kind !== kind || earlier.payment_id !== payment.id) throw operationKeyUsed();
    return payment;
  }
  switch (kind) {
    case "capture":
      return capture(trx, bus, payment);
    case "void":
      return voidHold(trx, bus, payment);
    case "refund":
      return refund(trx, bus, payment);
  }
}

async function capture(trx: Trx, bus: Bus, payment: PaymentRow): Promise<PaymentRow> {
  switch (payment.status) {
    case "captured":
    case "refunded":
      return payment;
    case "voided":
      throw paymentAlreadyVoided();
    case "declined":
    case "failed":
      throw paymentNotAuthorized();
    case "authorized": {
      const captured = await setPaymentStatus(trx, payment.id, "captured");
      await bus.publish(
        trx,
        paymentsEventsV1.PaymentCaptured,
        { orderId: captured.order_id, paymentId: captured.id, amount: amountOf(captured) },
        { subject: captured.order_id },
      );
      return captured;
    }
  }
}

async function voidHold(trx: Trx, bus: Bus, payment: PaymentRow): Promise<PaymentRow> {
  switch (payment.status) {
    case "voided":
      return payment;
    case "captured":
    case "refunded":
      throw paymentAlreadyCaptured();
    case "declined":
    case "failed":
      throw paymentNotAuthorized();
    case "authorized": {
      const voided = await setPaymentStatus(trx, payment.id, "voided");
      await bus.publish(
        trx,
        paymentsEventsV1.PaymentVoided,
        { orderId: voided.order_id, paymentId: voided.id },
        { subject: voided.order_id },
      );
      return voided;
    }
  }
}

async function refund(trx: Trx, bus: Bus, payment: PaymentRow): Promise<PaymentRow> {
  switch (payment.status) {
    case "refunded":
      return payment;
    case "authorized":
    case "voided":
    case "declined":
    case "failed":
      throw paymentNotCaptured();
    case "captured": {
      const refunded = await setPaymentStatus(trx, payment.id, "refunded");
      await bus.publish(
        trx,
        paymentsEventsV1.PaymentRefunded,
        { orderId: refunded.order_id, paymentId: refunded.id, amount: amountOf(refunded) },
        { subject: refunded.order_id },
      );
      return refunded;
    }
  }
}
