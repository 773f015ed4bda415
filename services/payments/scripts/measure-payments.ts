// Authorize-then-capture through gRPC against the real service (in this process, its own test
// database and pg-boss bus), N payments at C at once: payments per second and each call's
// p50/p99. Bounded: N defaults to 300.
//   node_modules/.bin/node --conditions=source --import tsx services/payments/scripts/measure-payments.ts [N] [C]
import { randomUUID } from "node:crypto";
import { startPaymentsHarness } from "../src/fixtures/payments-harness.js";

const total = Math.min(Number(process.argv[2] ?? 300), 5000);
const concurrency = Math.min(Number(process.argv[3] ?? 8), 64);
const h = await startPaymentsHarness({ env: { LOG_LEVEL: "info" } });
try {
  const { paymentMethod } = await h.client.createPaymentMethod(
    { card: { number: "4242424242424242", expMonth: 1, expYear: new Date().getUTCFullYear() + 1, cvc: "123" } },
    { metadata: await h.shopper("bench") },
  );
  const authorize: number[] = [];
  const capture: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const orderId = randomUUID();
        let t = performance.now();
        const { payment } = await h.client.authorizePayment({
          idempotencyKey: `authorize:${orderId}`,
          orderId,
          paymentMethodId: paymentMethod?.paymentMethodId ?? "",
          ownerId: "bench",
          amount: { currencyCode: "USD", amountMinor: 1299 },
        });
        authorize.push(performance.now() - t);
        t = performance.now();
        await h.client.capturePayment({ idempotencyKey: `capture:${orderId}`, paymentId: payment?.paymentId ?? "" });
        capture.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const pct = (values: number[], p: number) =>
    [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * p)] ?? 0;
  process.stdout.write(
    `${total} payments (authorize + capture), ${concurrency} at once: ${(total / seconds).toFixed(1)} payments/s\n` +
      `authorize p50 ${pct(authorize, 0.5).toFixed(1)} ms, p99 ${pct(authorize, 0.99).toFixed(1)} ms; ` +
      `capture p50 ${pct(capture, 0.5).toFixed(1)} ms, p99 ${pct(capture, 0.99).toFixed(1)} ms\n`,
  );
} finally {
  await h.stop();
}
