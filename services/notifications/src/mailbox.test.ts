// Order events to mails in the local mailbox (no SMTP_URL), over the pg-boss bus and real
// PostgreSQL: one mail of each kind per order however often its event arrives, rendered text and
// escaped HTML, and the back-office API over it.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ClientError, createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { injectionCases } from "@obfy/kit/db/testing";
import { notificationsV1, ordersEventsV1 } from "@obfy/protos";
import { type NotificationsHarness, orderedLine, startNotificationsHarness } from "./fixtures/notifications-harness.js";

const { MailKind, MailStatus } = notificationsV1;

function rejects(code: string, message?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.codeName, code, error.message);
    if (message !== undefined) assert.equal(error.details, message);
    return true;
  };
}

describe("the mailbox", () => {
  let h: NotificationsHarness;
  before(async () => {
    h = await startNotificationsHarness();
  });
  after(() => h?.stop());

  async function mailsOf(orderId: string): Promise<notificationsV1.Mail[]> {
    return (await h.client.listMail({ to: "", orderId, pageSize: 0, pageToken: "" })).mails;
  }

  async function sent(orderId: string, count = 1): Promise<notificationsV1.Mail[]> {
    return h.until(`${count} sent mail(s) for ${orderId}`, async () => {
      const mails = await mailsOf(orderId);
      return mails.filter((m) => m.status === MailStatus.MAIL_STATUS_SENT).length >= count ? mails : undefined;
    });
  }

  function confirmed(orderId: string, email = "reader@example.com"): ordersEventsV1.OrderConfirmed {
    return ordersEventsV1.OrderConfirmed.fromPartial({
      orderId,
      ownerId: "shopper-1",
      customerEmail: email,
      lines: [orderedLine("Dune", 2, 1299), orderedLine("Emma", 1, 850)],
      total: { currencyCode: "USD", amountMinor: 3448 },
    });
  }

  test("OrderConfirmed: one receipt in the mailbox, however often the event arrives", async () => {
    const orderId = randomUUID();
    const ids = await Promise.all([1, 2, 3].map(() => h.publish(ordersEventsV1.OrderConfirmed, confirmed(orderId))));
    const [mail] = await sent(orderId);
    assert.ok(mail);
    assert.equal(mail.kind, MailKind.MAIL_KIND_RECEIPT);
    assert.equal(mail.to, "reader@example.com");
    assert.equal(mail.transport, "mailbox");
    assert.equal(mail.attemptCount, 1);
    assert.equal(mail.subject, `Your receipt for order ${orderId}`);
    assert.match(
      mail.textBody,
      /^ {2}2 x Dune {2}\$12\.99 {2}= \$25\.98\n {2}1 x Emma {2}\$8\.50 {2}= \$8\.50\n\nTotal charged: \$34\.48\n/m,
    );
    assert.match(mail.textBody, /Total charged: \$34\.48/);
    assert.match(mail.textBody, new RegExp(`https://books\\.example/orders/${orderId}`));
    assert.match(mail.htmlBody, /<td>Emma<\/td><td align="center">1<\/td>/);
    assert.ok(mail.sendTime !== undefined);
    // Every delivery handled, still one mail.
    await h.until("all three events handled", async () => {
      const rows = await h.db.selectFrom("processed_events").select("event_id").where("event_id", "in", ids).execute();
      return rows.length === 3 ? true : undefined;
    });
    assert.equal((await mailsOf(orderId)).length, 1);
    const tasks = await h.db.selectFrom("outbox").select("type").where("subject", "=", orderId).execute();
    assert.deepEqual(
      tasks.map((t) => t.type),
      ["bookstore.notifications.tasks.v1.SendMail"],
      "one task queued",
    );
  });

  test("cancelled, shipped and refunded orders get their status mails", async () => {
    const orderId = randomUUID();
    await h.publish(
      ordersEventsV1.OrderShipped,
      ordersEventsV1.OrderShipped.fromPartial({
        orderId,
        customerEmail: "a@example.com",
        lines: [orderedLine("Dune", 1, 1299)],
      }),
    );
    await h.publish(
      ordersEventsV1.OrderRefunded,
      ordersEventsV1.OrderRefunded.fromPartial({
        orderId,
        customerEmail: "a@example.com",
        amount: { currencyCode: "USD", amountMinor: 1299 },
        reason: "The parcel was damaged",
      }),
    );
    const cancelledId = randomUUID();
    await h.publish(
      ordersEventsV1.OrderCancelled,
      ordersEventsV1.OrderCancelled.fromPartial({
        orderId: cancelledId,
        customerEmail: "a@example.com",
        lines: [orderedLine("Dune", 1, 1299)],
        cancelCode: "CANCEL_CODE_PAYMENT_DECLINED",
        reason: "Your card was declined",
      }),
    );
    const mails = await sent(orderId, 2);
    const byKind = new Map(mails.map((m) => [m.kind, m]));
    assert.match(byKind.get(MailKind.MAIL_KIND_ORDER_SHIPPED)?.textBody ?? "", /is on its way/);
    assert.match(byKind.get(MailKind.MAIL_KIND_ORDER_REFUNDED)?.textBody ?? "", /Refunded to your card: \$12\.99/);
    const [cancelled] = await sent(cancelledId);
    assert.equal(cancelled?.kind, MailKind.MAIL_KIND_ORDER_CANCELLED);
    assert.match(cancelled?.textBody ?? "", /was cancelled: Your card was declined/);
    assert.match(cancelled?.textBody ?? "", /Nothing was charged/);
  });

  test("values are escaped in HTML and kept as they are in text", async () => {
    const orderId = randomUUID();
    const title = `<script>alert("x")</script> & 'Tom' <b>`;
    await h.publish(
      ordersEventsV1.OrderConfirmed,
      ordersEventsV1.OrderConfirmed.fromPartial({
        ...confirmed(orderId),
        lines: [orderedLine(title, 1, 100)],
        total: { currencyCode: "USD", amountMinor: 100 },
      }),
    );
    const [mail] = await sent(orderId);
    assert.ok(mail?.textBody.includes(title), "text as it is");
    assert.ok(!mail?.htmlBody.includes("<script>"), "no markup from data in the HTML");
    assert.ok(
      mail?.htmlBody.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Tom&#39; &lt;b&gt;"),
    );
  });

  test("an order event without an address is dead-lettered, not mailed", async () => {
    const orderId = randomUUID();
    await h.publish(ordersEventsV1.OrderConfirmed, confirmed(orderId, ""));
    const bus = h.service.bus;
    assert.ok(bus);
    const letter = await h.until("the dead letter", async () =>
      (await bus.deadLetters.list("notifications")).find((d) => d.error?.includes(orderId)),
    );
    assert.match(letter.error ?? "", /no customer_email/);
    assert.deepEqual(await mailsOf(orderId), []);
    // Nor one whose address would smuggle in a header.
    const smuggled = randomUUID();
    await h.publish(ordersEventsV1.OrderConfirmed, confirmed(smuggled, "a@example.com\r\nBcc: all@example.com"));
    const second = await h.until("the second dead letter", async () =>
      (await bus.deadLetters.list("notifications")).find((d) => d.error?.includes(smuggled)),
    );
    assert.match(second.error ?? "", /control characters/);
    assert.deepEqual(await mailsOf(smuggled), []);
  });

  test("ListMail: newest first, paged, by address (case-insensitive) or order; GetMail", async () => {
    const email = `Pager-${randomUUID()}@Example.com`;
    const orderIds = [randomUUID(), randomUUID(), randomUUID()];
    for (const orderId of orderIds) {
      await h.publish(ordersEventsV1.OrderConfirmed, confirmed(orderId, email));
      await sent(orderId);
    }
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await h.client.listMail({ to: email.toLowerCase(), orderId: "", pageSize: 2, pageToken });
      seen.push(...page.mails.map((m) => m.orderId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    assert.deepEqual(seen, [...orderIds].reverse());
    const [first] = await mailsOf(orderIds[0] ?? "");
    assert.equal((await h.client.getMail({ mailId: first?.mailId ?? "" })).mail?.orderId, orderIds[0]);
    await assert.rejects(h.client.getMail({ mailId: randomUUID() }), rejects("NOT_FOUND", "Mail not found"));
    await assert.rejects(h.client.getMail({ mailId: "" }), rejects("INVALID_ARGUMENT", "mail_id is required"));
    await assert.rejects(
      h.client.listMail({ to: email, orderId: "", pageSize: 2, pageToken: "nonsense" }),
      rejects("INVALID_ARGUMENT", "Invalid page token"),
    );
    await assert.rejects(
      h.client.listMail({ to: "", orderId: "", pageSize: 101, pageToken: "" }),
      rejects("INVALID_ARGUMENT", "page_size must be between 0 and 100"),
    );
  });

  test("the mailbox is for admins only", async () => {
    const anonymous = createClient(notificationsV1.NotificationsServiceService, `127.0.0.1:${h.service.port}`, {
      logger: createLogger({ name: "anonymous", level: "silent" }),
      retry: false,
    });
    try {
      const request = { to: "", orderId: "", pageSize: 1, pageToken: "" };
      await assert.rejects(anonymous.listMail(request), rejects("UNAUTHENTICATED"));
      await assert.rejects(anonymous.listMail(request, { metadata: h.shopper }), rejects("PERMISSION_DENIED"));
      await assert.rejects(
        anonymous.getMail({ mailId: randomUUID() }, { metadata: h.shopper }),
        rejects("PERMISSION_DENIED"),
      );
    } finally {
      anonymous.close();
    }
  });

  test("injection strings through every filter: answered or refused, never INTERNAL", async () => {
    const before = await h.db.selectFrom("mails").select("id").execute();
    for (const { request } of injectionCases<notificationsV1.ListMailRequest>({
      to: "x@example.com",
      orderId: "o",
      pageSize: 0,
      pageToken: "",
    })) {
      try {
        assert.deepEqual((await h.client.listMail(request)).mails, []);
      } catch (error) {
        rejects("INVALID_ARGUMENT")(error);
      }
    }
    for (const { request } of injectionCases<notificationsV1.GetMailRequest>({ mailId: "m" })) {
      await assert.rejects(h.client.getMail(request), (e: unknown) => {
        assert.ok(e instanceof ClientError && ["NOT_FOUND", "INVALID_ARGUMENT"].includes(e.codeName), String(e));
        return true;
      });
    }
    // And through an order event's texts: stored and rendered as they are, nothing else touched.
    const orderId = `o'; DROP TABLE mails; --${randomUUID()}`;
    await h.publish(
      ordersEventsV1.OrderCancelled,
      ordersEventsV1.OrderCancelled.fromPartial({
        orderId,
        customerEmail: "'; DROP TABLE mails; --@example.com",
        lines: [orderedLine("Robert'); DROP TABLE students;--", 1, 100)],
        reason: "' OR 1=1 --",
      }),
    );
    const [mail] = await sent(orderId);
    assert.match(mail?.textBody ?? "", /Robert'\); DROP TABLE students;--/);
    assert.equal(mail?.to, "'; DROP TABLE mails; --@example.com");
    assert.equal((await h.db.selectFrom("mails").select("id").execute()).length, before.length + 1);
  });
});
