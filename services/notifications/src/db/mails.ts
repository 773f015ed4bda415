// Queries on mails.
import { type Kysely, type Selectable, sql, type Transaction } from "@obfy/kit/db";
import type { MailFacts, MailKindName, MailTransportName, NotificationsSchema } from "./schema.js";

type Db = Kysely<NotificationsSchema> | Transaction<NotificationsSchema>;

/** A mail row as read. */
export type MailRow = Selectable<NotificationsSchema["mails"]>;

/** Records a mail to send unless the order already has one of its kind; its id, or undefined. */
export async function insertMail(
  trx: Transaction<NotificationsSchema>,
  mail: {
    readonly id: string;
    readonly kind: MailKindName;
    readonly orderId: string;
    readonly to: string;
    readonly facts: MailFacts;
  },
): Promise<string | undefined> {
  const row = await trx
    .insertInto("mails")
    .values({
      id: mail.id,
      kind: mail.kind,
      order_id: mail.orderId,
      to_address: mail.to,
      facts: JSON.stringify(mail.facts),
      transport: null,
      message_id: null,
      last_error: null,
      sent_by: null,
      sent_at: null,
    })
    .onConflict((c) => c.columns(["order_id", "kind"]).doNothing())
    .returning("id")
    .executeTakeFirst();
  return row?.id;
}

/** The mail `id`, if any. */
export async function findMail(db: Db, id: string): Promise<MailRow | undefined> {
  return db.selectFrom("mails").selectAll().where("id", "=", id).executeTakeFirst();
}

/**
 * Marks a mail sent with what was sent, unless it already was (another delivery of its task);
 * false then.
 */
export async function markSent(
  trx: Transaction<NotificationsSchema>,
  id: string,
  sent: {
    readonly subject: string;
    readonly text: string;
    readonly html: string;
    readonly transport: MailTransportName;
    readonly messageId: string | null;
    readonly worker: string;
  },
): Promise<boolean> {
  const row = await trx
    .updateTable("mails")
    .set({
      subject: sent.subject,
      text_body: sent.text,
      html_body: sent.html,
      status: "sent",
      transport: sent.transport,
      message_id: sent.messageId,
      attempt_count: sql<number>`attempt_count + 1`,
      last_error: null,
      sent_by: sent.worker,
      sent_at: sql<Date>`now()`,
      updated_at: sql<Date>`now()`,
    })
    .where("id", "=", id)
    .where("status", "<>", "sent")
    .returning("id")
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Records a failed attempt, outside the attempt's transaction (which rolls back): the count,
 * the error, and FAILED once no attempt is left. A mail already sent is left alone.
 */
export async function recordFailedAttempt(
  db: Kysely<NotificationsSchema>,
  id: string,
  failure: { readonly error: string; readonly final: boolean },
): Promise<void> {
  await db
    .updateTable("mails")
    .set({
      attempt_count: sql<number>`attempt_count + 1`,
      last_error: failure.error,
      status: failure.final ? "failed" : "queued",
      updated_at: sql<Date>`now()`,
    })
    .where("id", "=", id)
    .where("status", "<>", "sent")
    .execute();
}

/** Mails, newest first, after the cursor, optionally to one address (case-insensitive) or about one order. */
export async function listMails(
  db: Db,
  options: {
    readonly to?: string;
    readonly orderId?: string;
    /** The `seq` of the last row of the previous page. */
    readonly beforeSeq?: string;
    readonly limit: number;
  },
): Promise<MailRow[]> {
  let query = db.selectFrom("mails").selectAll();
  if (options.to !== undefined) query = query.where(sql<boolean>`lower(to_address) = lower(${options.to})`);
  if (options.orderId !== undefined) query = query.where("order_id", "=", options.orderId);
  if (options.beforeSeq !== undefined) query = query.where("seq", "<", options.beforeSeq);
  return query.orderBy("seq", "desc").limit(options.limit).execute();
}
