// Mails over SMTP to a real SMTP server in this process (smtp-server, by nodemailer's author):
// what arrives (headers, text and HTML parts), retries with backoff after a temporary refusal,
// FAILED and dead-lettered after EVENT_BUS_MAX_ATTEMPTS, sent after a replay, and a permanent
// refusal dead-lettered at once.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { notificationsV1, ordersEventsV1 } from "@obfy/protos";
import { SMTPServer } from "smtp-server";
import { type NotificationsHarness, orderedLine, startNotificationsHarness } from "./fixtures/notifications-harness.js";

const { MailStatus } = notificationsV1;
const TASK_QUEUE = "bookstore.notifications.tasks.v1.SendMail";

interface Received {
  readonly to: string[];
  readonly raw: string;
}

describe("mails over SMTP", () => {
  let h: NotificationsHarness;
  let smtp: SMTPServer;
  const received: Received[] = [];
  /** Recipients refused for now with 451 (temporary), and for good with 550. */
  const refuseFor = new Map<string, number>();
  const refuseForGood = new Set<string>();
  const attempts = new Map<string, number>();

  before(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      onRcptTo(address, _session, callback) {
        const to = address.address;
        attempts.set(to, (attempts.get(to) ?? 0) + 1);
        if (refuseForGood.has(to)) {
          return callback(Object.assign(new Error("No such user here"), { responseCode: 550 }));
        }
        const left = refuseFor.get(to) ?? 0;
        if (left > 0) {
          refuseFor.set(to, left - 1);
          return callback(Object.assign(new Error("Mailbox busy, try again later"), { responseCode: 451 }));
        }
        callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          received.push({
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString("utf8"),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    const { port } = (smtp as unknown as { server: { address(): AddressInfo } }).server.address();
    h = await startNotificationsHarness({
      env: { SMTP_URL: `smtp://127.0.0.1:${port}`, EVENT_BUS_MAX_ATTEMPTS: "3", MAIL_FROM: "Books <shop@example.com>" },
    });
  });
  after(async () => {
    await h?.stop();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  function confirmed(orderId: string, email: string): ordersEventsV1.OrderConfirmed {
    return ordersEventsV1.OrderConfirmed.fromPartial({
      orderId,
      customerEmail: email,
      lines: [orderedLine("Middlemarch", 1, 1500)],
      total: { currencyCode: "USD", amountMinor: 1500 },
    });
  }

  async function mailOf(orderId: string, status: notificationsV1.MailStatus): Promise<notificationsV1.Mail> {
    return h.until(`a mail of ${orderId} in status ${status}`, async () => {
      const [mail] = (await h.client.listMail({ to: "", orderId, pageSize: 0, pageToken: "" })).mails;
      return mail?.status === status ? mail : undefined;
    });
  }

  test("the receipt arrives with its text and HTML parts and a stable Message-ID", async () => {
    const orderId = randomUUID();
    await h.publish(ordersEventsV1.OrderConfirmed, confirmed(orderId, "reader@example.com"));
    const mail = await mailOf(orderId, MailStatus.MAIL_STATUS_SENT);
    assert.equal(mail.transport, "smtp");
    const message = received.find((r) => r.raw.includes(orderId));
    assert.ok(message, "the SMTP server got it");
    assert.deepEqual(message.to, ["reader@example.com"]);
    assert.match(message.raw, /^From: Books <shop@example\.com>/m);
    assert.match(message.raw, new RegExp(`^Subject: Your receipt for order ${orderId}`, "m"));
    assert.match(
      message.raw,
      new RegExp(`^Message-ID:\\s*<${mail.mailId}@notifications\\.onlinebooks\\.example>`, "m"),
    );
    assert.match(message.raw, /multipart\/alternative/);
    assert.match(message.raw, /Content-Type: text\/plain/);
    assert.match(message.raw, /Content-Type: text\/html/);
    assert.match(message.raw, /Total charged: \$15\.00/);
  });

  test("a temporary refusal is retried with backoff until the server takes the mail", async () => {
    const orderId = randomUUID();
    refuseFor.set("flaky@example.com", 2);
    await h.publish(ordersEventsV1.OrderConfirmed, confirmed(orderId, "flaky@example.com"));
    const mail = await mailOf(orderId, MailStatus.MAIL_STATUS_SENT);
    assert.equal(mail.attemptCount, 3, "two refusals, then sent");
    assert.equal(mail.lastError, "");
    assert.equal(attempts.get("flaky@example.com"), 3);
    assert.equal(received.filter((r) => r.to.includes("flaky@example.com")).length, 1);
  });

  test("after EVENT_BUS_MAX_ATTEMPTS the mail is FAILED and its task dead-lettered; a replay sends it", async () => {
    const orderId = randomUUID();
    refuseFor.set("busy@example.com", 1000);
    await h.publish(ordersEventsV1.OrderConfirmed, confirmed(orderId, "busy@example.com"));
    const failed = await mailOf(orderId, MailStatus.MAIL_STATUS_FAILED);
    assert.equal(failed.attemptCount, 3);
    assert.match(failed.lastError, /451|try again later/i);
    const bus = h.service.bus;
    assert.ok(bus);
    const letter = await h.until("the dead-lettered task", async () =>
      (await bus.deadLetters.list(TASK_QUEUE)).find((d) => d.subject === orderId),
    );
    assert.equal(attempts.get("busy@example.com"), 3);
    refuseFor.delete("busy@example.com");
    assert.equal(await bus.deadLetters.replay(TASK_QUEUE, { ids: [letter.id] }), 1);
    const sent = await mailOf(orderId, MailStatus.MAIL_STATUS_SENT);
    assert.equal(sent.attemptCount, 4);
    assert.equal(received.filter((r) => r.to.includes("busy@example.com")).length, 1);
  });

  test("a permanent refusal (5xx) is FAILED after one attempt and dead-lettered", async () => {
    const orderId = randomUUID();
    refuseForGood.add("nobody@example.com");
    await h.publish(ordersEventsV1.OrderConfirmed, confirmed(orderId, "nobody@example.com"));
    const failed = await mailOf(orderId, MailStatus.MAIL_STATUS_FAILED);
    assert.equal(failed.attemptCount, 1);
    assert.match(failed.lastError, /550|No such user/);
    const bus = h.service.bus;
    assert.ok(bus);
    await h.until("the dead-lettered task", async () =>
      (await bus.deadLetters.list(TASK_QUEUE)).find((d) => d.subject === orderId),
    );
    assert.equal(attempts.get("nobody@example.com"), 1);
  });
});
