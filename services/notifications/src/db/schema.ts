import type { ColumnType, Generated } from "@obfy/kit/db";
import type { EventTables } from "@obfy/kit/events";

/** What a mail is about (MailKind without the prefix, lower case). */
export type MailKindName = "receipt" | "order_cancelled" | "order_shipped" | "order_refunded";

/** Where a mail is. */
export type MailState = "queued" | "sent" | "failed";

/** How a mail left: over SMTP, or into the local mailbox (this table). */
export type MailTransportName = "smtp" | "mailbox";

/** A line of an order, as a mail shows it. */
export interface MailLine {
  readonly title: string;
  readonly quantity: number;
  readonly unitPriceMinor: number;
}

/** The facts a mail's templates need, taken from the order event that caused it. */
export interface MailFacts {
  readonly orderId: string;
  readonly currencyCode: string;
  readonly lines: readonly MailLine[];
  /** The order's total (receipt) or the amount given back (refund), in minor units. */
  readonly amountMinor?: number;
  /** Why the order was cancelled or refunded, in the shopper's words. */
  readonly reason?: string;
  /** A cancelled order that had been charged: the mail says the money comes back. */
  readonly refunded?: boolean;
}

/** The Notifications' tables (and the kit's outbox tables). */
export interface NotificationsSchema extends EventTables {
  mails: {
    id: string;
    // bigint arrives as a string.
    seq: ColumnType<string, never, never>;
    kind: MailKindName;
    order_id: string;
    to_address: string;
    facts: ColumnType<MailFacts, string, string>;
    subject: Generated<string>;
    text_body: Generated<string>;
    html_body: Generated<string>;
    status: Generated<MailState>;
    attempt_count: Generated<number>;
    transport: MailTransportName | null;
    message_id: string | null;
    last_error: string | null;
    sent_by: string | null;
    created_at: ColumnType<Date, never, never>;
    updated_at: ColumnType<Date, Date | undefined, Date>;
    sent_at: Date | null;
  };
}
