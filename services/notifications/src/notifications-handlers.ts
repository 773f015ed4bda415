// The NotificationsService's RPCs: the mailbox for the back-office.
import type { Database } from "@obfy/kit/db";
import type { ServiceImplementation } from "@obfy/kit/server";
import { notificationsV1 } from "@obfy/protos";
import { findMail, listMails, type MailRow } from "./db/mails.js";
import type { MailKindName, MailState, NotificationsSchema } from "./db/schema.js";
import { invalidField, invalidPageToken, mailNotFound } from "./errors.js";
import { checkFilter, checkPageSize, isUuid } from "./validation.js";

function timestamp(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}

const KINDS: Record<MailKindName, notificationsV1.MailKind> = {
  receipt: notificationsV1.MailKind.MAIL_KIND_RECEIPT,
  order_cancelled: notificationsV1.MailKind.MAIL_KIND_ORDER_CANCELLED,
  order_shipped: notificationsV1.MailKind.MAIL_KIND_ORDER_SHIPPED,
  order_refunded: notificationsV1.MailKind.MAIL_KIND_ORDER_REFUNDED,
};

const STATUSES: Record<MailState, notificationsV1.MailStatus> = {
  queued: notificationsV1.MailStatus.MAIL_STATUS_QUEUED,
  sent: notificationsV1.MailStatus.MAIL_STATUS_SENT,
  failed: notificationsV1.MailStatus.MAIL_STATUS_FAILED,
};

/** A stored mail in the API's shape. */
export function mailOf(row: MailRow): notificationsV1.Mail {
  return {
    mailId: row.id,
    kind: KINDS[row.kind],
    orderId: row.order_id,
    to: row.to_address,
    subject: row.subject,
    textBody: row.text_body,
    htmlBody: row.html_body,
    status: STATUSES[row.status],
    attemptCount: row.attempt_count,
    transport: row.transport ?? "",
    createTime: timestamp(row.created_at),
    sendTime: row.sent_at === null ? undefined : timestamp(row.sent_at),
    lastError: row.last_error ?? "",
  };
}

interface PageToken {
  readonly seq: string;
  readonly to: string;
  readonly orderId: string;
}

function encodePageToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

function decodePageToken(value: string, to: string, orderId: string): string | undefined {
  if (value === "") return undefined;
  try {
    const token = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as Partial<PageToken>;
    if (
      typeof token.seq === "string" &&
      /^[0-9]{1,18}$/.test(token.seq) &&
      token.to === to &&
      token.orderId === orderId
    ) {
      return token.seq;
    }
  } catch {
    // Not ours: refused below.
  }
  throw invalidPageToken();
}

/** Creates the NotificationsService handlers. */
export function createNotificationsHandlers(deps: {
  readonly database: Database<NotificationsSchema>;
}): ServiceImplementation<typeof notificationsV1.NotificationsServiceService> {
  const db = deps.database.kysely;
  return {
    async listMail(request) {
      const limit = checkPageSize(request.pageSize);
      const to = checkFilter("to", request.to);
      const orderId = checkFilter("order_id", request.orderId);
      const beforeSeq = decodePageToken(request.pageToken, request.to, request.orderId);
      const rows = await listMails(db, { to, orderId, beforeSeq, limit: limit + 1 });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        mails: page.map(mailOf),
        nextPageToken:
          rows.length > limit && last !== undefined
            ? encodePageToken({ seq: last.seq, to: request.to, orderId: request.orderId })
            : "",
      };
    },

    async getMail(request) {
      if (request.mailId === "") throw invalidField("mail_id", "mail_id is required");
      if (!isUuid(request.mailId)) throw mailNotFound();
      const row = await findMail(db, request.mailId);
      if (row === undefined) throw mailNotFound();
      return { mail: mailOf(row) };
    },
  };
}
