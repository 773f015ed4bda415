// Renders a recorded mail into its subject, text and HTML bodies.
import { Eta } from "eta";
import type { MailFacts, MailKindName } from "./db/schema.js";
import { TEMPLATES, type TemplateData } from "./templates.js";

/** A rendered mail. */
export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** What rendering needs besides the mail. */
export interface RenderOptions {
  /** `MARKETPLACE_URL`: where the order page is (`<url>/orders/<id>`). */
  readonly marketplaceUrl: string;
}

// C0 and C1 control characters: never in a subject line (a header).
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]+/g;

function money(minor: number, currencyCode: string): string {
  return new Intl.NumberFormat("en-US", { style: "currency", currency: currencyCode || "USD" }).format(minor / 100);
}

function subjectOf(kind: MailKindName, orderId: string): string {
  switch (kind) {
    case "receipt":
      return `Your receipt for order ${orderId}`;
    case "order_cancelled":
      return `Your order ${orderId} was cancelled`;
    case "order_shipped":
      return `Your order ${orderId} has shipped`;
    case "order_refunded":
      return `Your order ${orderId} was refunded`;
  }
}

/** Creates the renderer: text templates print values as they are, HTML ones escape every value. */
export function createRenderer(options: RenderOptions): (kind: MailKindName, facts: MailFacts) => RenderedMail {
  const text = new Eta({ autoEscape: false, autoTrim: false });
  const html = new Eta({ autoEscape: true });
  const compiled = Object.fromEntries(
    Object.entries(TEMPLATES).map(([kind, t]) => [kind, { text: text.compile(t.text), html: html.compile(t.html) }]),
  ) as Record<MailKindName, { text: ReturnType<Eta["compile"]>; html: ReturnType<Eta["compile"]> }>;
  const base = options.marketplaceUrl.replace(/\/+$/, "");

  return (kind, facts) => {
    const subject = subjectOf(kind, facts.orderId).replace(CONTROL, " ");
    const data: TemplateData = {
      subject,
      orderId: facts.orderId,
      orderUrl: `${base}/orders/${encodeURIComponent(facts.orderId)}`,
      lines: facts.lines.map((line) => ({
        title: line.title,
        quantity: line.quantity,
        unitPrice: money(line.unitPriceMinor, facts.currencyCode),
        lineTotal: money(line.unitPriceMinor * line.quantity, facts.currencyCode),
      })),
      amount: money(facts.amountMinor ?? 0, facts.currencyCode),
      reason: facts.reason ?? "",
      refunded: facts.refunded ?? false,
    };
    const template = compiled[kind];
    return { subject, text: text.render(template.text, data), html: html.render(template.html, data) };
  };
}
