// One shopper-side process of the checkout proofs: at a common instant it runs its checkouts at
// once, each as the Marketplace does: tokenise the card with Payments, PlaceOrder with a fresh
// idempotency key, then WatchOrder until CONFIRMED or CANCELLED. It prints one JSON line with
// every outcome and its latency (PlaceOrder sent → final status seen).
//
// Usage: node --conditions=source --import tsx services/orders/scripts/checkout-client.ts '<json>'
//   { "orders": "host:port", "payments": "host:port", "tokens": ["…"], "lines": [{"bookId","quantity"}],
//     "card": "4242424242424242", "startAt": <epoch ms>, "timeoutMs": 120000 }
import { randomUUID } from "node:crypto";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { ordersV1, paymentsV1 } from "@obfy/protos";

interface Options {
  readonly orders: string;
  readonly payments: string;
  readonly tokens: readonly string[];
  readonly lines: readonly { readonly bookId: string; readonly quantity: number }[];
  readonly card: string;
  readonly startAt: number;
  readonly timeoutMs: number;
  /** Checkouts of this process started at once (default: all of them). */
  readonly concurrency?: number;
}

/** One checkout's outcome. */
export interface CheckoutOutcome {
  readonly orderId: string;
  readonly status: string;
  readonly cancelCode: string;
  readonly reason: string;
  /** PlaceOrder sent → its final status seen, in ms. */
  readonly latencyMs: number;
  /** PlaceOrder sent → its answer, in ms. */
  readonly placeMs: number;
}

const options = JSON.parse(process.argv[2] ?? "{}") as Options;
const logger = createLogger({ name: "checkout-client", level: "silent" });
const orders = createClient(ordersV1.OrdersServiceService, options.orders, { logger, retry: false });
const payments = createClient(paymentsV1.PaymentsServiceService, options.payments, { logger, retry: false });
const address = {
  recipientName: "Ada Lovelace",
  addressLine: "12 St James's Square",
  locality: "London",
  postalCode: "SW1Y 4JH",
  regionCode: "GB",
};

async function checkout(token: string): Promise<CheckoutOutcome> {
  const metadata = { authorization: `Bearer ${token}` };
  const { paymentMethod } = await payments.createPaymentMethod(
    { card: { number: options.card, expMonth: 12, expYear: new Date().getFullYear() + 3, cvc: "123" } },
    { metadata, timeoutMs: 30_000 },
  );
  const started = performance.now();
  const { order } = await orders.placeOrder(
    ordersV1.PlaceOrderRequest.fromPartial({
      idempotencyKey: randomUUID(),
      lines: [...options.lines],
      paymentMethodId: paymentMethod?.paymentMethodId ?? "",
      shippingAddress: address,
    }),
    { metadata, timeoutMs: 30_000 },
  );
  const placeMs = performance.now() - started;
  const orderId = order?.orderId ?? "";
  const stop = new AbortController();
  try {
    for await (const { order: now } of orders.watchOrder(
      { orderId },
      { metadata, timeoutMs: options.timeoutMs, signal: stop.signal },
    )) {
      const status = now === undefined ? "" : ordersV1.OrderStatus[now.status];
      if (now !== undefined && status !== "ORDER_STATUS_PENDING") {
        return {
          orderId,
          status,
          cancelCode: ordersV1.CancelCode[now.cancelCode] ?? "",
          reason: now.cancelReason,
          latencyMs: performance.now() - started,
          placeMs,
        };
      }
    }
  } finally {
    stop.abort();
  }
  throw new Error(`WatchOrder of ${orderId} ended while PENDING`);
}

await new Promise((resolve) => setTimeout(resolve, Math.max(0, options.startAt - Date.now())));
const outcomes: CheckoutOutcome[] = [];
const errors: string[] = [];
const queue = [...options.tokens];
const workers = Array.from({ length: options.concurrency ?? queue.length }, async () => {
  for (let token = queue.shift(); token !== undefined; token = queue.shift()) {
    try {
      outcomes.push(await checkout(token));
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
    }
  }
});
await Promise.all(workers);
orders.close();
payments.close();
process.stdout.write(`${JSON.stringify({ pid: process.pid, outcomes, errors })}\n`);
