// From order events to mails: each event records its mail (QUEUED) and enqueues a SendMail task
// in the transaction that records the event as handled. The unique (order_id, kind) makes a
// redelivered or repeated event queue nothing more: one receipt per confirmed order.
import { randomUUID } from "node:crypto";
import type { Logger } from "@obfy/kit/core";
import type { Transaction } from "@obfy/kit/db";
import { type EventBus, NonRetryableError } from "@obfy/kit/events";
import { notificationsTasksV1, ordersEventsV1 } from "@obfy/protos";
import { insertMail } from "./db/mails.js";
import type { MailFacts, MailKindName, MailLine, NotificationsSchema } from "./db/schema.js";

type Trx = Transaction<NotificationsSchema>;

// C0 and C1 control characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function linesOf(lines: readonly ordersEventsV1.OrderedLine[]): MailLine[] {
  return lines.map((line) => ({
    title: line.title,
    quantity: line.quantity,
    unitPriceMinor: line.unitPrice?.amountMinor ?? 0,
  }));
}

function currencyOf(...amounts: ({ currencyCode: string } | undefined)[]): string {
  return amounts.find((a) => a !== undefined && a.currencyCode !== "")?.currencyCode ?? "USD";
}

/** Subscribes the order events that send mails on `bus`. */
export function subscribeOrderMails(bus: EventBus<NotificationsSchema>, options: { readonly logger: Logger }): void {
  const logger = options.logger.child({ component: "mail-queue" });

  async function queue(trx: Trx, kind: MailKindName, to: string, facts: MailFacts): Promise<void> {
    if (facts.orderId === "") throw new NonRetryableError(`an order event for a ${kind} mail without an order_id`);
    if (to.trim() === "") throw new NonRetryableError(`order ${facts.orderId}: no customer_email for its ${kind} mail`);
    // A line break in an address is a header injection attempt, never an address.
    if (CONTROL.test(to)) throw new NonRetryableError(`order ${facts.orderId}: customer_email has control characters`);
    const id = await insertMail(trx, { id: randomUUID(), kind, orderId: facts.orderId, to: to.trim(), facts });
    if (id === undefined) {
      logger.info({ order_id: facts.orderId, kind }, "The order already has this mail");
      return;
    }
    await bus.enqueue(trx, notificationsTasksV1.SendMail, { mailId: id }, { subject: facts.orderId });
  }

  bus.subscribe(ordersEventsV1.OrderConfirmed, async ({ data }, trx) => {
    await queue(trx, "receipt", data.customerEmail, {
      orderId: data.orderId,
      currencyCode: currencyOf(data.total, ...data.lines.map((l) => l.unitPrice)),
      lines: linesOf(data.lines),
      amountMinor: data.total?.amountMinor ?? 0,
    });
  });

  bus.subscribe(ordersEventsV1.OrderCancelled, async ({ data }, trx) => {
    await queue(trx, "order_cancelled", data.customerEmail, {
      orderId: data.orderId,
      currencyCode: currencyOf(...data.lines.map((l) => l.unitPrice)),
      lines: linesOf(data.lines),
      reason: data.reason,
      refunded: data.wasConfirmed,
    });
  });

  bus.subscribe(ordersEventsV1.OrderShipped, async ({ data }, trx) => {
    await queue(trx, "order_shipped", data.customerEmail, {
      orderId: data.orderId,
      currencyCode: currencyOf(...data.lines.map((l) => l.unitPrice)),
      lines: linesOf(data.lines),
    });
  });

  bus.subscribe(ordersEventsV1.OrderRefunded, async ({ data }, trx) => {
    await queue(trx, "order_refunded", data.customerEmail, {
      orderId: data.orderId,
      currencyCode: currencyOf(data.amount),
      lines: [],
      amountMinor: data.amount?.amountMinor ?? 0,
      reason: data.reason,
    });
  });
}
