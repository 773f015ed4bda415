import { fileURLToPath } from "node:url";
import { Eta } from "eta";
import type { FastifyReply } from "fastify";
import { SCRIPT_PATH } from "./script.js";
import type { Shopper } from "./session.js";
import { STYLESHEET_PATH } from "./stylesheet.js";

/** The templates folder: `services/marketplace/views/`, the same from `src/` and from `dist/`. */
export const VIEWS_DIR = fileURLToPath(new URL("../views/", import.meta.url));

/**
 * The template engine. `autoEscape` is on: `<%= %>` escapes everything it prints, so text a
 * shopper typed (reviews, searches, names) can never become markup. Only the layout prints raw
 * HTML (`<%~ it.body %>`), and that is the output of another escaped template.
 */
export const eta = new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true, varName: "it" });

const HTML = "text/html; charset=utf-8";

/** What every page's layout needs. */
export interface PageContext {
  readonly shopper: Shopper | undefined;
  /** A CSRF token for the forms on the page (the header's "Sign out" among them). */
  readonly csrfToken: string;
  /** The search box's current text. */
  readonly query?: string;
}

/** Renders `template` in the layout and sends it (`no-store`: pages differ per shopper). */
export function sendPage(
  reply: FastifyReply,
  template: string,
  title: string,
  context: PageContext,
  data: Record<string, unknown> = {},
  status = 200,
): FastifyReply {
  const html = eta.render(template, {
    ...data,
    title,
    shopper: context.shopper,
    csrfToken: context.csrfToken,
    query: context.query ?? "",
    assets: { css: STYLESHEET_PATH, js: SCRIPT_PATH },
  });
  return reply.code(status).type(HTML).header("cache-control", "no-store").send(html);
}

/**
 * One formatter per currency, with its minor-unit scale read once. `resolvedOptions()` costs
 * about 3.3 µs a call against 0.4 µs for `format()` (Node 26, a loop of 100,000 of each), and
 * calling it per price made `formatMoney` the service's costliest function on the homepage:
 * 126 µs per page in the CPU profile of `npm run bench` (bench/results/results.md, 2026-12-03).
 */
const money = new Map<string, { readonly format: Intl.NumberFormat; readonly scale: number }>();

function moneyFormat(code: string): { readonly format: Intl.NumberFormat; readonly scale: number } {
  let entry = money.get(code);
  if (entry === undefined) {
    let format: Intl.NumberFormat;
    try {
      format = new Intl.NumberFormat("en-US", { style: "currency", currency: code });
    } catch {
      format = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
    }
    entry = { format, scale: 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2) };
    money.set(code, entry);
  }
  return entry;
}

/** `{ currencyCode: "USD", amountMinor: 1299 }` → `$12.99`. */
export function formatMoney(value: { currencyCode: string; amountMinor: number } | undefined): string {
  if (value === undefined) return "";
  const { format, scale } = moneyFormat(value.currencyCode || "USD");
  return format.format(value.amountMinor / scale);
}

/** A protobuf Timestamp as a readable UTC date and time. */
export function formatTime(value: { seconds: number; nanos: number } | undefined): string {
  if (value === undefined) return "";
  return new Date(value.seconds * 1000).toISOString().replace("T", " ").slice(0, 16).concat(" UTC");
}

/** "4.3 out of 5 (12 reviews)", or "No reviews yet". */
export function formatRating(rating: { average: number; count: number } | undefined): string {
  if (rating === undefined || rating.count === 0) return "No reviews yet";
  return `${rating.average.toFixed(1)} out of 5 (${rating.count} ${rating.count === 1 ? "review" : "reviews"})`;
}

/** What the book page says about stock: "Out of stock", "Only 2 left", "In stock". */
export function stockText(available: number): string {
  if (available <= 0) return "Out of stock";
  if (available <= 5) return `Only ${available} left`;
  return "In stock";
}

/** A piece of text, marked when it matched the search. */
export interface TextPart {
  readonly text: string;
  readonly hit: boolean;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Splits `text` into parts, marking every occurrence of the matched terms (case-insensitive,
 * whole words and prefixes). The template prints each part escaped inside `<mark>` or not, so no
 * HTML is ever built from strings.
 */
export function highlight(text: string, terms: readonly string[]): TextPart[] {
  const words = [...new Set(terms.map((t) => t.trim()).filter((t) => t.length > 0))].sort(
    (a, b) => b.length - a.length,
  );
  if (words.length === 0 || text === "") return [{ text, hit: false }];
  const pattern = new RegExp(`(${words.map(escapeRegExp).join("|")})`, "giu");
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const index = match.index ?? 0;
    if (index > last) parts.push({ text: text.slice(last, index), hit: false });
    parts.push({ text: match[0], hit: true });
    last = index + match[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last), hit: false });
  return parts;
}
