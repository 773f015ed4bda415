// Where rendered mails go: an SMTP server through nodemailer when SMTP_URL is set, otherwise the
// local mailbox (the mail's own row, which ListMail shows the back-office).
import nodemailer from "nodemailer";
import type { MailTransportName } from "./db/schema.js";

/** A mail ready to go. */
export interface OutgoingMail {
  /** The Message-ID header: the same for every attempt, so a receiver can drop a duplicate. */
  readonly messageId: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** A way out for mails. */
export interface MailTransport {
  readonly name: MailTransportName;
  /** Hands the mail over; resolves with the message id the server accepted, or rejects. */
  send(mail: OutgoingMail): Promise<{ messageId: string | null }>;
}

/** An SMTP server's answer that no retry will change (5xx). */
export function isPermanentSmtpError(error: unknown): boolean {
  const code = (error as { responseCode?: unknown } | null)?.responseCode;
  return typeof code === "number" && code >= 500 && code < 600;
}

/**
 * Sends over SMTP (`smtp://user:pass@host:port`, `smtps://…`), with bounded waits at every step:
 * one connection per mail (no pool), so nothing stays open between mails and nothing needs closing.
 */
export function createSmtpTransport(url: string, from: string): MailTransport {
  // Bounded waits: a stuck server costs an attempt, not a worker.
  const transporter = nodemailer.createTransport(
    { url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 },
    { from },
  );
  return {
    name: "smtp",
    async send(mail) {
      const info = await transporter.sendMail({
        messageId: mail.messageId,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
      });
      return { messageId: typeof info.messageId === "string" ? info.messageId : mail.messageId };
    },
  };
}

/** The local mailbox: the mail's row is the mailbox entry, so there is nothing more to do. */
export function createMailboxTransport(): MailTransport {
  return { name: "mailbox", send: async (mail) => ({ messageId: mail.messageId }) };
}

/** The error of an attempt as stored in `last_error`: one line, bounded, without the SMTP URL's password. */
export function describeError(error: unknown, smtpUrl: string | undefined): string {
  let text = error instanceof Error ? error.message : String(error);
  if (smtpUrl !== undefined) {
    try {
      const password = decodeURIComponent(new URL(smtpUrl).password);
      if (password !== "") text = text.replaceAll(password, "***");
    } catch {
      // Not a URL nodemailer would accept either; nothing to hide.
    }
  }
  return text.replace(/\s+/g, " ").trim().slice(0, 500) || "unknown error";
}
