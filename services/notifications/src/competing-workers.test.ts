// Two replicas compete for the SendMail work queue, on RabbitMQ and on pg-boss: every confirmed
// order gets exactly one receipt, delivered once to a real SMTP server (smtp-server, which takes
// 100 ms per mail so that the work piles up), and both replicas take a share of it.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { sql } from "@obfy/kit/db";
import { ordersEventsV1 } from "@obfy/protos";
import { SMTPServer } from "smtp-server";
import { type NotificationsHarness, orderedLine, startNotificationsHarness } from "./fixtures/notifications-harness.js";

const ORDERS = 40;

for (const transport of ["amqp", "postgres"] as const) {
  describe(`competing SendMail workers over ${transport}`, () => {
    let h: NotificationsHarness;
    let smtp: SMTPServer;
    const delivered = new Map<string, number>();

    before(async () => {
      smtp = new SMTPServer({
        authOptional: true,
        disabledCommands: ["STARTTLS", "AUTH"],
        logger: false,
        onData(stream, _session, callback) {
          const chunks: Buffer[] = [];
          stream.on("data", (chunk: Buffer) => chunks.push(chunk));
          stream.on("end", () => {
            const id = /^Message-ID:\s*<([^@>]+)@/im.exec(Buffer.concat(chunks).toString("utf8"))?.[1] ?? "?";
            delivered.set(id, (delivered.get(id) ?? 0) + 1);
            setTimeout(callback, 100);
          });
        },
      });
      await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
      const { port } = (smtp as unknown as { server: { address(): AddressInfo } }).server.address();
      h = await startNotificationsHarness({
        transport,
        env: { SMTP_URL: `smtp://127.0.0.1:${port}`, EVENT_BUS_CONCURRENCY: "2" },
      });
      await h.startReplica();
    });
    after(async () => {
      await h?.stop();
      await new Promise<void>((resolve) => smtp?.close(() => resolve()));
    });

    test(`${ORDERS} confirmed orders, each event twice: ${ORDERS} receipts, each sent once, by both replicas`, async () => {
      const started = Date.now();
      const orderIds = Array.from({ length: ORDERS }, () => randomUUID());
      for (const orderId of orderIds) {
        const event = ordersEventsV1.OrderConfirmed.fromPartial({
          orderId,
          customerEmail: "reader@example.com",
          lines: [orderedLine("Persuasion", 1, 999)],
          total: { currencyCode: "USD", amountMinor: 999 },
        });
        await Promise.all([
          h.publish(ordersEventsV1.OrderConfirmed, event),
          h.publish(ordersEventsV1.OrderConfirmed, event),
        ]);
      }
      const rows = await h.until(
        "every receipt sent",
        async () => {
          const sent = await h.db
            .selectFrom("mails")
            .select(["id", "order_id", "sent_by", "attempt_count"])
            .where("status", "=", "sent")
            .execute();
          return sent.length >= ORDERS ? sent : undefined;
        },
        120_000,
      );
      const took = Date.now() - started;
      assert.equal(rows.length, ORDERS);
      assert.deepEqual(new Set(rows.map((r) => r.order_id)), new Set(orderIds));
      const { rows: counts } = await sql<{ n: string }>`select count(*) as n from mails`.execute(h.db);
      assert.equal(Number(counts[0]?.n), ORDERS, "one mail per order");
      for (const row of rows) assert.equal(delivered.get(row.id), 1, `mail ${row.id} delivered once`);
      assert.equal(delivered.size, ORDERS);
      const perWorker = new Map<string, number>();
      for (const row of rows) perWorker.set(row.sent_by ?? "", (perWorker.get(row.sent_by ?? "") ?? 0) + 1);
      process.stdout.write(
        `# ${transport}: ${ORDERS} receipts in ${took} ms, per replica ${JSON.stringify([...perWorker.values()])}\n`,
      );
      assert.equal(perWorker.size, 2, "both replicas sent mails");
    });
  });
}
