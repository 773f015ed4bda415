// The Notifications deployable as a process: the built bundle with real PostgreSQL and the
// pg-boss bus, no SMTP_URL (the local mailbox). A stand-in Orders publishes OrderConfirmed twice;
// the process queues, renders and files one receipt, the mailbox API shows it to an admin, and
// SIGTERM stops it cleanly.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { createDatabase, readDatabaseConfig } from "@obfy/kit/db";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { createTestIdentity } from "@obfy/kit/dev";
import { createEventBus, type EventTables, eventsMigrations, readEventBusConfig } from "@obfy/kit/events";
import { notificationsV1, ordersEventsV1 } from "@obfy/protos";
import { type LoggedProcess, spawnLogged } from "./support/logged-process.js";
import { logRecords } from "./support/pages.js";
import { waitForGrpcServing } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const bundle = join(repoRoot, "services", "notifications", "dist", "main.bundle.js");
const logger = createLogger({ name: "notifications-process-test", level: "silent" });
const INHERITED =
  /^(TLS_|AUTH_|AUTHZ_|OTEL_|METRICS_|HEALTH_PORT$|PORT$|HOST$|LOG_|GRPC_|NODE_ENV$|DATABASE_|EVENT_BUS|SMTP_|MAIL_)/;

describe("the notifications process", () => {
  const databases: TestDatabase[] = [];
  const closers: (() => Promise<void>)[] = [];
  let service: LoggedProcess | undefined;
  after(async () => {
    await service?.stop();
    for (const close of closers.reverse()) await close();
    await Promise.all(databases.map((d) => d.drop()));
  });

  it("files one receipt per confirmed order in the mailbox and exits 0 on SIGTERM", async () => {
    assert.ok(existsSync(bundle), "run `npm run build` first: the test starts the built bundle");
    const [own, bus, ordersDb] = [await createTestDatabase(), await createTestDatabase(), await createTestDatabase()];
    databases.push(own, bus, ordersDb);
    const identity = await createTestIdentity();
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !INHERITED.test(key)));
    const busEnv = { EVENT_BUS: "postgres", EVENT_BUS_DATABASE_URL: bus.url };
    service = spawnLogged(process.execPath, ["--enable-source-maps", bundle], {
      cwd: join(repoRoot, "services", "notifications"),
      env: {
        ...base,
        ...identity.env,
        ...busEnv,
        AUTH_PLAINTEXT_TOKENS: "allow",
        DATABASE_URL: own.url,
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_PORT: "0",
        LOG_FORMAT: "json",
        MARKETPLACE_URL: "https://books.example",
        SHUTDOWN_GRACE_SECONDS: "20",
      },
    });
    await service.waitForLine(/"msg":"notifications started/, 90_000);
    const record = logRecords(service.lines).find((r) => String(r.msg).startsWith("notifications started"));
    const address = String(record?.address);
    await waitForGrpcServing(Number(address.split(":").at(-1)), 10_000);
    assert.ok(service.lines.some((l) => l.includes("Mails go to the local mailbox")));

    // A stand-in Orders, publishing through its own outbox.
    const orders = createDatabase<EventTables>({
      config: readDatabaseConfig(ordersDb.env, { name: "orders" }),
      logger,
      migrations: [eventsMigrations],
    });
    await orders.migrate();
    closers.push(() => orders.close());
    const ordersBus = createEventBus<EventTables>({
      service: "orders",
      db: orders.kysely,
      listen: orders.pool,
      config: readEventBusConfig(busEnv),
      logger,
    });
    await ordersBus.start();
    closers.push(() => ordersBus.close());
    const orderId = randomUUID();
    const event = ordersEventsV1.OrderConfirmed.fromPartial({
      orderId,
      customerEmail: "reader@example.com",
      lines: [{ bookId: "1", title: "Dune", quantity: 1, unitPrice: { currencyCode: "USD", amountMinor: 1299 } }],
      total: { currencyCode: "USD", amountMinor: 1299 },
    });
    for (let i = 0; i < 2; i++)
      await orders.transaction((trx) => ordersBus.publish(trx, ordersEventsV1.OrderConfirmed, event));

    const client = createClient(notificationsV1.NotificationsServiceService, address, { logger, retry: false });
    try {
      const admin = await identity.metadata({ subject: "admin-1", role: "admin" });
      const deadline = Date.now() + 60_000;
      let mails: notificationsV1.Mail[] = [];
      while (Date.now() < deadline) {
        mails = (
          await client.listMail(
            { to: "READER@example.com", orderId: "", pageSize: 0, pageToken: "" },
            { metadata: admin },
          )
        ).mails;
        if (mails[0]?.status === notificationsV1.MailStatus.MAIL_STATUS_SENT) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(mails.length, 1, "one receipt");
      assert.equal(mails[0]?.transport, "mailbox");
      assert.match(mails[0]?.textBody ?? "", /Total charged: \$12\.99/);
      assert.match(mails[0]?.htmlBody ?? "", /https:\/\/books\.example\/orders\//);
    } finally {
      client.close();
    }

    const stopping = Date.now();
    service.kill("SIGTERM");
    assert.deepEqual(await service.exited, { code: 0, signal: null }, service.lines.slice(-20).join("\n"));
    assert.ok(Date.now() - stopping < 15_000, "stopped before the grace period");
    const messages = logRecords(service.lines).map((r) => r.msg);
    assert.ok(messages.includes("Mail sent"));
    assert.ok(messages.includes("Shutdown complete"));
    assert.ok(!service.lines.join("\n").includes('"level":50'), "no error lines");
  });
});
