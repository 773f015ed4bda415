// One shopper-side process of the fault proof (checkout-faults.mjs): a steady, closed-loop
// checkout load that rides through faults. It keeps `concurrency` checkouts in flight until it
// is told to stop (a line "stop" on stdin, or stdin closed), `maxCheckouts` have started, or
// `stopAt` passes. Each checkout does what a careful shopper's browser would:
// - tokenise the card with Payments (again after a failure: a token is harmless);
// - PlaceOrder with ONE idempotency key, sent again after any failure that may be transient
//   (UNAVAILABLE while a service is down, DEADLINE_EXCEEDED, INTERNAL, ...) until it is answered,
//   so every checkout ends with an order id the client holds ("acknowledged");
// - WatchOrder until CONFIRMED or CANCELLED, watching again (after 250 ms) whenever the stream
//   breaks or ends early.
// It gives up on a checkout only after `giveUpMs` (then it prints an "error" line). With
// `declineEvery` N > 0, every Nth checkout of this process pays with the declined test card
// (`declineCard`), so the compensations run under the faults too.
//
// Every step is one JSON line on stdout, with the wall clock (epoch ms) it happened at:
//   {"e":"start","key","card":"ok"|"decline","at"}  {"e":"placed","key","orderId","attempts","at"}
//   {"e":"final","key","orderId","status","cancelCode","reason","latencyMs","at"}
//   {"e":"error","key","stage","message","at"}  and last {"e":"done","started","placed","final","errors"}
//
// Usage: node --conditions=source --import tsx services/orders/scripts/checkout-load-client.ts '<json>'
//   { "orders": "host:port", "payments": "host:port", "tokens": ["…"], "lines": [{"bookId","quantity"}],
//     "card": "4242424242424242", "concurrency": 4, "maxCheckouts": 100, "stopAt": <epoch ms>,
//     "giveUpMs": 180000, "declineEvery": 10, "declineCard": "4000000000000002" }
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { ordersV1, paymentsV1 } from "@obfy/protos";

interface Options {
  readonly orders: string;
  readonly payments: string;
  readonly tokens: readonly string[];
  readonly lines: readonly { readonly bookId: string; readonly quantity: number }[];
  readonly card: string;
  readonly concurrency: number;
  readonly maxCheckouts: number;
  readonly stopAt: number;
  readonly giveUpMs: number;
  readonly declineEvery?: number;
  readonly declineCard?: string;
}

const options = JSON.parse(process.argv[2] ?? "{}") as Options;
const logger = createLogger({ name: "checkout-load-client", level: "silent" });
// No retries of the client's own (this loop retries, with the same key), and quick reconnects:
// a restarted service is back within a second of answering.
const channel = { logger, retry: false, reconnectBackoff: { initialMs: 100, maxMs: 500 } } as const;
const orders = createClient(ordersV1.OrdersServiceService, options.orders, channel);
const payments = createClient(paymentsV1.PaymentsServiceService, options.payments, channel);
const address = {
  recipientName: "Ada Lovelace",
  addressLine: "12 St James's Square",
  locality: "London",
  postalCode: "SW1Y 4JH",
  regionCode: "GB",
};
/** Answers that retrying with the same request cannot change: a bug in this client or the store. */
// INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, FAILED_PRECONDITION,
// OUT_OF_RANGE, UNIMPLEMENTED, UNAUTHENTICATED.
const FINAL_ERRORS = new Set([3, 5, 6, 7, 9, 11, 12, 16]);

const emit = (line: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ ...line, at: Date.now() })}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

class GiveUp extends Error {}

/** Calls `attempt` until it succeeds, a final error, or the checkout's deadline. */
async function persist<T>(deadline: number, attempt: () => Promise<T>): Promise<{ value: T; attempts: number }> {
  for (let attempts = 1; ; attempts++) {
    try {
      return { value: await attempt(), attempts };
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code !== undefined && FINAL_ERRORS.has(code)) throw error;
      if (Date.now() + 200 >= deadline) throw new GiveUp(`gave up after ${attempts} attempts: ${message(error)}`);
      await sleep(200);
    }
  }
}

const counts = { started: 0, placed: 0, final: 0, errors: 0 };
let stopping = false;

async function checkout(token: string): Promise<void> {
  const key = randomUUID();
  const deadline = Date.now() + options.giveUpMs;
  const metadata = { authorization: `Bearer ${token}` };
  counts.started++;
  const every = options.declineEvery ?? 0;
  const declined = every > 0 && counts.started % every === 0 && options.declineCard !== undefined;
  const card = declined ? (options.declineCard as string) : options.card;
  emit({ e: "start", key, card: declined ? "decline" : "ok" });
  let stage = "tokenise";
  try {
    const { value: method } = await persist(deadline, () =>
      payments.createPaymentMethod(
        { card: { number: card, expMonth: 12, expYear: new Date().getFullYear() + 3, cvc: "123" } },
        { metadata, timeoutMs: 10_000 },
      ),
    );
    stage = "place";
    const started = performance.now();
    const request = ordersV1.PlaceOrderRequest.fromPartial({
      idempotencyKey: key,
      lines: [...options.lines],
      paymentMethodId: method.paymentMethod?.paymentMethodId ?? "",
      shippingAddress: address,
    });
    const { value: placed, attempts } = await persist(deadline, () =>
      orders.placeOrder(request, { metadata, timeoutMs: 10_000 }),
    );
    const orderId = placed.order?.orderId ?? "";
    counts.placed++;
    emit({ e: "placed", key, orderId, attempts });
    stage = "watch";
    while (Date.now() < deadline) {
      const stop = new AbortController();
      try {
        for await (const { order } of orders.watchOrder(
          { orderId },
          { metadata, timeoutMs: Math.max(1000, deadline - Date.now()), signal: stop.signal },
        )) {
          if (order === undefined || order.status === ordersV1.OrderStatus.ORDER_STATUS_PENDING) continue;
          counts.final++;
          emit({
            e: "final",
            key,
            orderId,
            status: ordersV1.OrderStatus[order.status],
            cancelCode: ordersV1.CancelCode[order.cancelCode] ?? "",
            reason: order.cancelReason,
            latencyMs: Math.round(performance.now() - started),
          });
          return;
        }
      } catch (error) {
        const code = (error as { code?: number }).code;
        if (code !== undefined && FINAL_ERRORS.has(code)) throw error;
      } finally {
        stop.abort();
      }
      await sleep(250);
    }
    throw new GiveUp(`order ${orderId} not final after ${options.giveUpMs} ms`);
  } catch (error) {
    counts.errors++;
    emit({ e: "error", key, stage, message: message(error) });
  }
}

createInterface({ input: process.stdin })
  .on("line", (line) => {
    if (line.trim() === "stop") stopping = true;
  })
  .on("close", () => {
    stopping = true;
  });

let next = 0;
const takeToken = (): string | undefined => {
  if (stopping || Date.now() >= options.stopAt || counts.started >= options.maxCheckouts) return undefined;
  const token = options.tokens[next++ % options.tokens.length];
  return token;
};
await Promise.all(
  Array.from({ length: Math.max(1, options.concurrency) }, async () => {
    for (let token = takeToken(); token !== undefined; token = takeToken()) await checkout(token);
  }),
);
orders.close();
payments.close();
emit({ e: "done", ...counts });
process.exit(0);
