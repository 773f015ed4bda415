// The Payments deployable as a process: the built bundle with real PostgreSQL and the pg-boss
// bus, answering health, tokenising a card and authorizing with it, logging at trace level
// without ever writing the card number, and stopping cleanly on SIGTERM.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { createTestIdentity } from "@obfy/kit/dev";
import { paymentsV1 } from "@obfy/protos";
import { type LoggedProcess, spawnLogged } from "./support/logged-process.js";
import { logRecords } from "./support/pages.js";
import { waitForGrpcServing } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const bundle = join(repoRoot, "services", "payments", "dist", "main.bundle.js");
const logger = createLogger({ name: "payments-process-test", level: "silent" });
const INHERITED =
  /^(TLS_|AUTH_|AUTHZ_|OTEL_|METRICS_|HEALTH_PORT$|PORT$|HOST$|LOG_|GRPC_|NODE_ENV$|DATABASE_|EVENT_BUS|PAYMENTS_)/;
const PAN = "4242424242424242";

describe("the payments process", () => {
  const databases: TestDatabase[] = [];
  let service: LoggedProcess | undefined;
  after(async () => {
    await service?.stop();
    await Promise.all(databases.map((d) => d.drop()));
  });

  it("tokenises and authorizes, never logs or stores the card number, and exits 0 on SIGTERM", async () => {
    assert.ok(existsSync(bundle), "run `npm run build` first: the test starts the built bundle");
    const [own, bus] = [await createTestDatabase(), await createTestDatabase()];
    databases.push(own, bus);
    const identity = await createTestIdentity();
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !INHERITED.test(key)));
    service = spawnLogged(process.execPath, ["--enable-source-maps", bundle], {
      cwd: join(repoRoot, "services", "payments"),
      env: {
        ...base,
        ...identity.env,
        AUTH_PLAINTEXT_TOKENS: "allow",
        DATABASE_URL: own.url,
        EVENT_BUS: "postgres",
        EVENT_BUS_DATABASE_URL: bus.url,
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_PORT: "0",
        LOG_FORMAT: "json",
        LOG_LEVEL: "trace",
        PAYMENTS_PROCESSOR_TIMEOUT_MS: "500",
        SHUTDOWN_GRACE_SECONDS: "20",
      },
    });
    await service.waitForLine(/"msg":"payments started/, 90_000);
    const record = logRecords(service.lines).find((r) => String(r.msg).startsWith("payments started"));
    const address = String(record?.address);
    await waitForGrpcServing(Number(address.split(":").at(-1)), 10_000);

    const client = createClient(paymentsV1.PaymentsServiceService, address, { logger, retry: false });
    try {
      const shopper = await identity.metadata({ subject: "shopper-7" });
      const year = new Date().getUTCFullYear() + 1;
      const { paymentMethod } = await client.createPaymentMethod(
        { card: { number: "4242 4242 4242 4242", expMonth: 6, expYear: year, cvc: "123" } },
        { metadata: shopper },
      );
      assert.equal(paymentMethod?.last4, "4242");
      await assert.rejects(
        client.createPaymentMethod(
          { card: { number: "4242 4242 4242 4241", expMonth: 6, expYear: year, cvc: "123" } },
          { metadata: shopper },
        ),
        /Card number is not valid/,
      );
      const { payment } = await client.authorizePayment({
        idempotencyKey: "authorize:order-1",
        orderId: "order-1",
        paymentMethodId: paymentMethod?.paymentMethodId ?? "",
        ownerId: "shopper-7",
        amount: { currencyCode: "USD", amountMinor: 1999 },
      });
      assert.equal(payment?.status, paymentsV1.PaymentStatus.PAYMENT_STATUS_AUTHORIZED);
      const timeout = await client.createPaymentMethod(
        { card: { number: "4000 0000 0000 0259", expMonth: 6, expYear: year, cvc: "123" } },
        { metadata: shopper },
      );
      const timedOut = await client.authorizePayment({
        idempotencyKey: "authorize:order-2",
        orderId: "order-2",
        paymentMethodId: timeout.paymentMethod?.paymentMethodId ?? "",
        ownerId: "shopper-7",
        amount: { currencyCode: "USD", amountMinor: 1999 },
      });
      assert.equal(timedOut.payment?.failureCode, "timeout");
    } finally {
      client.close();
    }

    const stopping = Date.now();
    service.kill("SIGTERM");
    assert.deepEqual(await service.exited, { code: 0, signal: null }, service.lines.slice(-20).join("\n"));
    assert.ok(Date.now() - stopping < 15_000, "stopped before the grace period");
    const messages = logRecords(service.lines).map((r) => r.msg);
    assert.ok(messages.includes("Shutdown complete"));
    const log = service.lines.join("\n");
    assert.ok(!log.includes('"level":50'), "no error lines");
    assert.ok(log.includes("authorizePayment") || log.includes("AuthorizePayment"), "calls are logged at trace level");
    const { stdout: dump } = await promisify(execFile)("pg_dump", ["--data-only", own.url], { maxBuffer: 64 << 20 });
    assert.ok(dump.includes("shopper-7"), "the dump holds the data");
    for (const form of [PAN, "4242 4242 4242 4242", "4242424242424241", "4000000000000259"]) {
      assert.ok(!log.includes(form), `${form} in the log`);
      assert.ok(!dump.includes(form), `${form} in the database`);
    }
  });
});
