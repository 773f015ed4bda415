// The SendMail worker: renders a recorded mail and sends it, competing with the other replicas
// for the tasks of the work queue. A failed attempt is recorded outside its transaction (which
// rolls back) and thrown, so the kit retries it with backoff; the last one marks the mail
// FAILED as the kit dead-letters the task (replayed from the back-office, it is sent again).
// Over SMTP an attempt that failed after the server took the mail may send it twice; every
// attempt carries the same Message-ID so the receiver can tell. Into the mailbox it is once.
import type { Logger } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import { type EventBus, NonRetryableError } from "@obfy/kit/events";
import { notificationsTasksV1 } from "@obfy/protos";
import { findMail, markSent, recordFailedAttempt } from "./db/mails.js";
import type { MailFacts, MailKindName, NotificationsSchema } from "./db/schema.js";
import { describeError, isPermanentSmtpError, type MailTransport } from "./mail-transport.js";
import type { RenderedMail } from "./render.js";
import { isUuid } from "./validation.js";

/** What the worker needs. */
export interface MailWorkerOptions {
  readonly database: Database<NotificationsSchema>;
  readonly transport: MailTransport;
  readonly render: (kind: MailKindName, facts: MailFacts) => RenderedMail;
  /** `EVENT_BUS_MAX_ATTEMPTS`: the attempt after which the kit dead-letters the task. */
  readonly maxAttempts: number;
  /** This replica's name in `sent_by`. */
  readonly worker: string;
  /** The SMTP URL, so its password never reaches `last_error`. */
  readonly smtpUrl: string | undefined;
  readonly logger: Logger;
}

/** The host part of a Message-ID. */
const MESSAGE_ID_HOST = "notifications.onlinebooks.example";

/** Registers the SendMail worker on `bus`. */
export function workSendMail(bus: EventBus<NotificationsSchema>, options: MailWorkerOptions): void {
  const { database, transport } = options;
  const logger = options.logger.child({ component: "mail-worker" });

  bus.work(notificationsTasksV1.SendMail, async (event, trx) => {
    const { mailId } = event.data;
    const mail = isUuid(mailId) ? await findMail(trx, mailId) : undefined;
    if (mail === undefined)
      throw new NonRetryableError(`SendMail for mail ${JSON.stringify(mailId)}, which does not exist`);
    if (mail.status === "sent") return;
    let rendered: RenderedMail;
    let messageId: string | null;
    try {
      rendered = options.render(mail.kind, mail.facts);
      ({ messageId } = await transport.send({
        messageId: `<${mail.id}@${MESSAGE_ID_HOST}>`,
        to: mail.to_address,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
      }));
    } catch (error) {
      const permanent = isPermanentSmtpError(error);
      const final = permanent || event.attempt >= options.maxAttempts;
      const description = describeError(error, options.smtpUrl);
      await recordFailedAttempt(database.kysely, mail.id, { error: description, final });
      logger.warn(
        { mail_id: mail.id, order_id: mail.order_id, kind: mail.kind, attempt: event.attempt, final, err: description },
        final ? "Mail not sent; no attempt left" : "Mail not sent; will try again",
      );
      if (permanent) throw new NonRetryableError(description, { cause: error });
      throw error;
    }
    const marked = await markSent(trx, mail.id, {
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
      transport: transport.name,
      messageId,
      worker: options.worker,
    });
    if (marked)
      logger.info(
        { mail_id: mail.id, order_id: mail.order_id, kind: mail.kind, transport: transport.name },
        "Mail sent",
      );
  });
}
