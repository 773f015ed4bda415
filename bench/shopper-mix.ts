/**
 * `npm run bench:shoppers`: a shopper-mix load on the whole store over HTTP, in the spirit of
 * Online Boutique's Locust file but open loop. Shopper sessions arrive at a fixed rate (Poisson
 * or evenly spaced) whether or not earlier ones have finished; each is one of four visits, mixed
 * by weight: browse (home, a category, two books), search (home, a search for a word of a title
 * it saw, a result), cart (home, a book, add to cart, the cart) and buy (home, search, a book,
 * add to cart, the cart, checkout → sign-in → sign-up → account, the cart again, checkout with the
 * test card 4242 4242 4242 4242, the order page followed live until Confirmed or Cancelled, then
 * reloaded). Each shopper is a cookie jar posting the pages' own forms with their CSRF tokens, as
 * a browser without JavaScript does, and follows every redirect.
 *
 * Latency of a request runs from when it was meant to be sent to the end of its body: a session's
 * first page from the session's arrival time, a later click from the end of the previous page plus
 * the think time, a redirect from the response that asked for it. So a late generator or a
 * backlog counts against the store (no coordinated omission), while a shopper never clicks on a
 * page it has not seen. Every answer is checked (status, location, the titles, cart lines, order
 * status, the cancel reason) and a failure is counted against its page.
 *
 *   npm run bench:shoppers -- [--url http://127.0.0.1:5000] [--rate 4[,8,…]] [--sessions 200]
 *     [--seconds 60] [--think-ms 200] [--mix browse=4,search=3,cart=2,buy=1]
 *     [--arrivals poisson|even] [--seed 1] [--order-timeout-s 60] [--max-in-flight 200]
 *     [--settle-s 0] [--json]
 *
 * Without `--url` it starts the whole store as `npm start` does (bench/lib/store.ts, fresh data,
 * free ports, `RATE_LIMIT_MAX` raised: the default 100 a minute per client would answer 429 to a
 * load from one address) and stops it after; `--settle-s` waits that long before the first
 * session, and the store's CPU is reported beside each run. Several rates run one after another
 * on the same store. `--json` prints `{"runs":[report…]}`. Exits 1 when any check failed.
 */
import { randomUUID } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import * as hdr from "hdr-histogram-js";
import type { Percentiles } from "./fixtures/open-loop.js";
import { startStore } from "./lib/store.js";

/** Every page a shopper asks for, in the order a buyer meets them. */
export const PAGE_KINDS = [
  "home",
  "category",
  "search",
  "book",
  "add-to-cart",
  "cart",
  "sign-in",
  "sign-up",
  "account",
  "checkout",
  "place-order",
  "order",
] as const;
export type PageKind = (typeof PAGE_KINDS)[number];

/** The visits of the mix. */
export const VISITS = ["browse", "search", "cart", "buy"] as const;
export type Visit = (typeof VISITS)[number];

/** What a run is asked for. */
export interface ShopperMixOptions {
  /** The Marketplace, e.g. `http://127.0.0.1:5000`. */
  readonly url: string;
  /** Sessions per second. */
  readonly rate: number;
  /** At most this many sessions… */
  readonly sessions: number;
  /** …arriving within this many seconds. */
  readonly seconds: number;
  readonly thinkMs: number;
  readonly mix: Readonly<Record<Visit, number>>;
  readonly arrivals: "poisson" | "even";
  readonly seed: number;
  /** How long a placed order may take to read Confirmed or Cancelled. */
  readonly orderTimeoutMs: number;
  /** Sessions in flight beyond this are not started (counted as dropped). */
  readonly maxInFlight: number;
}

/** One page kind's figures. */
export interface PageFigures {
  readonly requests: number;
  readonly perSecond: number;
  /** From intended send to the end of the body, of the answered requests. */
  readonly latencyMs: Percentiles;
  /** No answer (connection error, 30 s timeout), a 5xx or 429, or a page served without what the shopper came for ("unavailable"). */
  readonly errors: number;
  /** Answered, but not what a correct store answers (status, location or content). */
  readonly checkFailures: number;
}

/** What a run measured. */
export interface ShopperMixReport {
  readonly options: ShopperMixOptions;
  /** From the first arrival to the last answer. */
  readonly elapsedSeconds: number;
  readonly sessions: {
    readonly started: number;
    readonly dropped: number;
    /** Sessions with at least one error or failed check. */
    readonly failed: number;
    readonly byVisit: Readonly<Record<Visit, number>>;
  };
  readonly pages: Readonly<Record<PageKind, PageFigures>>;
  readonly orders: {
    readonly placed: number;
    readonly confirmed: number;
    readonly cancelled: number;
    /** Cancel reason as the order page shows it → count. */
    readonly cancelReasons: Readonly<Record<string, number>>;
    /** Not Confirmed or Cancelled within the order timeout (a failed check). */
    readonly unsettled: number;
    /** Confirmed orders per elapsed second. */
    readonly confirmedPerSecond: number;
    /** From the intended send of "Place order" until the order read Confirmed or Cancelled. */
    readonly placeToFinalMs: Percentiles;
  };
  readonly correctness: {
    /** Answers that were not what a correct store answers, over every page (an unsettled order fails its order page's). */
    readonly checkFailures: number;
    /** Requests the store did not answer, or answered that it could not (5xx, 429, a page without its content). */
    readonly errors: number;
    /** Both: what a clean run has none of. */
    readonly failures: number;
    /** The first few, for a person to read. */
    readonly samples: readonly string[];
  };
  readonly generator: {
    /** How late requests left compared with when they were meant to. */
    readonly sendLagMs: Percentiles;
    /** This process's CPU per elapsed second (1 = one core). */
    readonly cpu: number;
    readonly cores: number;
    readonly loadAverageAtStart: number;
  };
}

const histogram = (): hdr.Histogram =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
const percentiles = (h: hdr.Histogram): Percentiles => ({
  p50: h.getValueAtPercentile(50) / 1000,
  p90: h.getValueAtPercentile(90) / 1000,
  p99: h.getValueAtPercentile(99) / 1000,
  max: h.maxValue / 1000,
});
const micros = (fromMs: number, toMs: number): number => Math.max(1, Math.round((toMs - fromMs) * 1000));

/** A small seeded generator (mulberry32), so a run's choices can be repeated. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The visits of sessions 0, 1, 2…: each weight's share, interleaved evenly, so a few sessions already see every visit. */
export function visitCycle(mix: Readonly<Record<Visit, number>>): Visit[] {
  const total = VISITS.reduce((sum, visit) => sum + mix[visit], 0);
  const credit = Object.fromEntries(VISITS.map((visit) => [visit, 0])) as Record<Visit, number>;
  const cycle: Visit[] = [];
  for (let i = 0; i < total; i++) {
    for (const visit of VISITS) credit[visit] += mix[visit];
    const pick = VISITS.reduce((best, visit) => (credit[visit] > credit[best] ? visit : best));
    credit[pick] -= total;
    cycle.push(pick);
  }
  return cycle;
}

class Stats {
  readonly pages = new Map<PageKind, { latency: hdr.Histogram; requests: number; errors: number; checks: number }>(
    PAGE_KINDS.map((kind) => [kind, { latency: histogram(), requests: 0, errors: 0, checks: 0 }]),
  );
  readonly lag = histogram();
  readonly settle = histogram();
  readonly samples: string[] = [];
  readonly cancelReasons: Record<string, number> = {};
  placed = 0;
  confirmed = 0;
  cancelled = 0;
  unsettled = 0;
  firstArrival = Number.POSITIVE_INFINITY;
  lastAnswer = 0;

  note(message: string): void {
    if (this.samples.length < 20) this.samples.push(message);
  }
}

/** Thrown to end a session at its first failed page: what follows depends on it. */
class PageFailed extends Error {}

interface Answer {
  readonly status: number;
  readonly location: string;
  readonly html: string;
  /** When it was meant to be sent. */
  readonly intended: number;
  /** When the body had arrived. */
  readonly at: number;
}

/** What a page must be, or why it is not: `undefined` when it passes. */
type Check = (answer: Answer) => string | undefined;
/** A check's answer starting with this is the store saying it cannot (a page served without its content): an error, not a wrong answer. */
const UNAVAILABLE = "unavailable: ";

const titleLinks = (html: string): { bookId: string; title: string }[] =>
  [...html.matchAll(/<a href="\/books\/([^"/]+)">(.*?)<\/a>/g)].map((m) => ({
    bookId: decodeURIComponent(m[1] ?? ""),
    title: (m[2] ?? "").replace(/<\/?mark>/g, ""),
  }));
const heading = (html: string): string => /<h1>(.*?)<\/h1>/s.exec(html)?.[1] ?? "";
const csrfOf = (html: string): string => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
const hidden = (html: string, name: string): string =>
  new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
const orderStatusOf = (html: string): string => /id="order-status"[^>]*>([^<]*)</.exec(html)?.[1] ?? "";
const cancelReasonOf = (html: string): string => /id="cancel-reason"[^>]*>([^<]*)</.exec(html)?.[1]?.trim() ?? "";
const ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" };
/** Text from the HTML the pages write (Eta escapes `& < > " '`). */
const unescapeHtml = (html: string): string =>
  html.replace(/&(amp|lt|gt|quot|#39);/g, (_, name: string) => ENTITIES[name] ?? "");
const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&${Object.keys(ENTITIES).find((name) => ENTITIES[name] === c)};`);
/** The page's heading and first paragraph, as a person reads an error page. */
const textOf = (html: string): string =>
  [heading(html), /<main[\s\S]*?<p[^>]*>([\s\S]*?)<\/p>/.exec(html)?.[1] ?? html.slice(0, 200)]
    .join(": ")
    .replace(/<[^>]+>/g, "");
const SETTLED = new Set(["Confirmed", "Cancelled", "Shipped", "Delivered", "Refunded"]);

/** One shopper: a cookie jar, a clock of intended send times, and the pages it has seen. */
class Shopper {
  readonly #jar = new Map<string, string>();
  readonly #run: ShopperRun;
  /** When the next click is meant to be sent. */
  #next: number;
  failed = false;

  constructor(run: ShopperRun, arrival: number) {
    this.#run = run;
    this.#next = arrival;
  }

  #cookieHeader(): string {
    return [...this.#jar].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  #keepCookies(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(a));
      if (value === "" || expired) this.#jar.delete(name);
      else this.#jar.set(name, value);
    }
  }

  /** Sends one request meant to leave at `intended`, checks its answer and records it under `kind`. */
  async #send(
    kind: PageKind,
    path: string,
    intended: number,
    check: Check,
    form?: Record<string, string>,
  ): Promise<Answer> {
    const { stats, options } = this.#run;
    const wait = intended - performance.now();
    if (wait > 1) await delay(wait);
    stats.lag.recordValue(micros(intended, performance.now()));
    const page = stats.pages.get(kind);
    if (page === undefined) throw new Error(`unknown page kind ${kind}`);
    page.requests++;
    let answer: Answer;
    try {
      const response = await fetch(new URL(path, options.url), {
        method: form === undefined ? "GET" : "POST",
        redirect: "manual",
        headers: {
          cookie: this.#cookieHeader(),
          "user-agent": "obfy-shopper-mix",
          ...(form === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
        },
        ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }),
        signal: AbortSignal.timeout(30_000),
      });
      this.#keepCookies(response);
      const html = await response.text();
      answer = { status: response.status, location: response.headers.get("location") ?? "", html, intended, at: 0 };
    } catch (error) {
      page.errors++;
      const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
      return this.#fail(kind, path, `no answer: ${error instanceof Error ? error.message : String(error)}${cause}`);
    }
    const at = performance.now();
    stats.lastAnswer = Math.max(stats.lastAnswer, at);
    page.latency.recordValue(micros(intended, at));
    if (answer.status >= 500 || answer.status === 429) {
      page.errors++;
      return this.#fail(kind, path, `HTTP ${answer.status}: ${textOf(answer.html)}`);
    }
    const problem = check(answer);
    if (problem?.startsWith(UNAVAILABLE)) {
      page.errors++;
      return this.#fail(kind, path, `HTTP ${answer.status}: ${problem}`);
    }
    if (problem !== undefined) {
      page.checks++;
      return this.#fail(kind, path, `HTTP ${answer.status}: ${problem}`);
    }
    this.#next = at + options.thinkMs;
    return { ...answer, at };
  }

  #fail(kind: PageKind, path: string, message: string): never {
    this.failed = true;
    this.#run.stats.note(`${kind} ${path}: ${message}`);
    throw new PageFailed(message);
  }

  /** The shopper has seen something new (the live order status): the next click is a think time from now. */
  saw(at: number): void {
    this.#next = at + this.#run.options.thinkMs;
  }

  /** A click: sent a think time after the previous page arrived. */
  click(kind: PageKind, path: string, check: Check, form?: Record<string, string>): Promise<Answer> {
    return this.#send(kind, path, this.#next, check, form);
  }

  /** The request a redirect asks for, sent at once. */
  follow(kind: PageKind, from: Answer, check: Check): Promise<Answer> {
    return this.#send(kind, from.location, from.at, check);
  }

  /** The order page's live status (what its script reads): the first Confirmed or Cancelled, or undefined at the bound. */
  async watchOrder(orderId: string): Promise<{ status: string; reason: string } | undefined> {
    const { options } = this.#run;
    const response = await fetch(new URL(`/orders/${encodeURIComponent(orderId)}/events`, options.url), {
      headers: { cookie: this.#cookieHeader(), accept: "text/event-stream" },
      signal: AbortSignal.timeout(options.orderTimeoutMs),
    }).catch(() => undefined);
    if (response?.body == null || response.status !== 200) return undefined;
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(event)?.[1];
          if (!/^event: order$/m.test(event) || data === undefined) continue;
          const { status, reason } = JSON.parse(data) as { status: string; reason: string };
          if (SETTLED.has(status)) return { status, reason };
        }
      }
    } catch {
      // The bound passed, or the stream broke: the reload below tells.
    } finally {
      await response.body.cancel().catch(() => {});
    }
    return undefined;
  }
}

interface ShopperRun {
  readonly options: ShopperMixOptions;
  readonly stats: Stats;
  readonly random: () => number;
}

const pick = <T>(run: ShopperRun, items: readonly T[]): T | undefined => items[Math.floor(run.random() * items.length)];

const ok200: Check = (a) => (a.status === 200 ? undefined : "expected 200");
const redirectTo =
  (pattern: RegExp): Check =>
  (a) =>
    a.status === 303 && pattern.test(a.location) ? undefined : `expected a 303 to ${pattern}, got "${a.location}"`;
const all =
  (...checks: Check[]): Check =>
  (a) => {
    for (const check of checks) {
      const problem = check(a);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
const contains =
  (text: string, what = text): Check =>
  (a) =>
    a.html.includes(text) ? undefined : `no ${what}`;

const homeCheck = all(ok200, contains("Featured books"), (a) => {
  if (titleLinks(a.html).length > 0) return undefined;
  const notice = /<p class="notice" role="status">([^<]*)</.exec(a.html)?.[1];
  return notice === undefined ? "no book listed" : `${UNAVAILABLE}the featured books: ${notice}`;
});
const bookCheck = (title: string): Check =>
  all(
    ok200,
    (a) => (heading(a.html) === title ? undefined : `heading "${heading(a.html)}", expected "${title}"`),
    contains("Add to cart</button>", 'the button "Add to cart"'),
    (a) => (csrfOf(a.html) !== "" ? undefined : "no CSRF token"),
  );
const cartCheck = (bookId: string, title: string): Check =>
  all(ok200, contains(`<a href="/books/${encodeURIComponent(bookId)}">${title}</a>`, `"${title}" in the cart`));

/** Words of 3 letters or more that the Catalog's full-text search (PostgreSQL's `english` configuration) ignores. */
const STOP_WORDS = new Set(
  (
    "all and any are but can did few for had has her him his how its nor not now off our out own she the too " +
    "was who why you about above after again against before being below between both does doing down during each from further " +
    "have having here hers herself himself into itself more most myself once only other ours ourselves over same " +
    "should some such than that their theirs them themselves then there these they this those through under until " +
    "very were what when where which while whom with would your yours yourself yourselves"
  ).split(" "),
);

/** A search for the longest word (not a stop word) of a title the shopper saw; answers a book listed in the results. */
async function search(run: ShopperRun, shopper: Shopper, seen: readonly string[]) {
  const queries = seen.flatMap((html) => {
    const words = unescapeHtml(html)
      .split(/[^\p{L}\p{N}]+/u)
      .filter((word) => word.length >= 3 && !STOP_WORDS.has(word.toLowerCase()));
    return words.sort((a, b) => b.length - a.length).slice(0, 1);
  });
  const q = pick(run, queries) ?? "history";
  const page = await shopper.click(
    "search",
    `/search?${new URLSearchParams({ q })}`,
    all(ok200, contains(`Results for “${escapeHtml(q)}”`), (a) =>
      titleLinks(a.html).length > 0 ? undefined : `no results for "${q}"`,
    ),
  );
  return pick(run, titleLinks(page.html));
}

async function visitBook(shopper: Shopper, book: { bookId: string; title: string }) {
  return shopper.click("book", `/books/${encodeURIComponent(book.bookId)}`, bookCheck(book.title));
}

async function addToCart(shopper: Shopper, book: { bookId: string; title: string }, bookPage: Answer) {
  const added = await shopper.click("add-to-cart", "/cart/lines", redirectTo(/^\/cart$/), {
    _csrf: csrfOf(bookPage.html),
    book_id: book.bookId,
    quantity: "1",
  });
  return shopper.follow("cart", added, cartCheck(book.bookId, book.title));
}

/** One session of `visit`, page after page; a failed page ends it. */
async function runSession(run: ShopperRun, visit: Visit, shopper: Shopper, n: number): Promise<void> {
  const { stats } = run;
  const home = await shopper.click("home", "/", homeCheck);
  const featured = pick(run, titleLinks(home.html));
  if (featured === undefined) return;
  if (visit === "browse") {
    const categories = [...home.html.matchAll(/<a href="\/categories\/([^"?]+)">([^<]*)<\/a>/g)];
    const category = pick(run, categories);
    if (category === undefined) return;
    const list = await shopper.click(
      "category",
      `/categories/${category[1]}`,
      all(
        ok200,
        (a) => (heading(a.html) === category[2] ? undefined : `heading "${heading(a.html)}"`),
        (a) => {
          const total = Number(/<p class="muted">(\d+) books?/.exec(a.html)?.[1] ?? "-1");
          return titleLinks(a.html).length === Math.min(total, 12) ? undefined : `lists not min(${total}, 12) books`;
        },
      ),
    );
    const first = pick(run, titleLinks(list.html)) ?? featured;
    const page = await visitBook(shopper, first);
    const similar = pick(run, titleLinks(page.html)) ?? featured;
    await visitBook(shopper, similar);
    return;
  }
  if (visit === "cart") {
    await addToCart(shopper, featured, await visitBook(shopper, featured));
    return;
  }
  const found =
    (await search(
      run,
      shopper,
      titleLinks(home.html).map((book) => book.title),
    )) ?? featured;
  const bookPage = await visitBook(shopper, found);
  if (visit === "search") return;

  // buy: the cart, sign-up on the way to checkout, checkout, the order until it settles.
  await addToCart(shopper, found, bookPage);
  const toSignIn = await shopper.click(
    "checkout",
    "/checkout",
    redirectTo(/^\/account\/sign-in\?return_to=%2Fcheckout$/),
  );
  await shopper.follow("sign-in", toSignIn, all(ok200, contains("<h1>Sign in</h1>", "sign-in form")));
  const signUpForm = await shopper.click(
    "sign-up",
    "/account/sign-up",
    all(ok200, contains("<h1>Create an account</h1>", "sign-up form")),
  );
  const email = `shopper-${run.options.seed}-${n}-${randomUUID().slice(0, 8)}@example.com`;
  const signedUp = await shopper.click("sign-up", "/account/sign-up", redirectTo(/^\/account$/), {
    _csrf: csrfOf(signUpForm.html),
    return_to: hidden(signUpForm.html, "return_to"),
    email,
    password: "correct horse battery staple 42",
  });
  await shopper.follow("account", signedUp, all(ok200, contains(email, "the new account's email")));
  // The anonymous cart joined the shopper's at sign-up.
  await shopper.click("cart", "/cart", cartCheck(found.bookId, found.title));
  const form = await shopper.click(
    "checkout",
    "/checkout",
    all(ok200, contains("Place order</button>", 'the button "Place order"'), contains(found.title, "the book")),
  );
  const year = (new Date().getFullYear() + 3) % 100;
  const placing = await shopper.click("place-order", "/checkout", redirectTo(/^\/orders\/[0-9a-f-]{36}$/), {
    _csrf: csrfOf(form.html),
    idempotency_key: hidden(form.html, "idempotency_key"),
    expected_total: hidden(form.html, "expected_total"),
    recipient_name: "Ada Shopper",
    address_line: "1 Market Street",
    locality: "San Francisco",
    postal_code: "94105",
    region_code: "US",
    card_number: "4242 4242 4242 4242",
    expiry: `12/${String(year).padStart(2, "0")}`,
    cvc: "123",
  });
  stats.placed++;
  const orderPath = placing.location;
  const orderId = orderPath.slice("/orders/".length);
  const orderCheck = all(ok200, contains(found.title, "the book"), (a) =>
    orderStatusOf(a.html) !== "" ? undefined : "no status",
  );
  const first = await shopper.follow("order", placing, orderCheck);
  let status = orderStatusOf(first.html);
  let settledAt = first.at;
  if (!SETTLED.has(status)) {
    const live = await shopper.watchOrder(orderId);
    settledAt = performance.now();
    shopper.saw(settledAt);
    if (live !== undefined) status = live.status;
  }
  // A reload, as the page without JavaScript shows it: settled, as the live status said, with a reason if cancelled.
  const live = status;
  const reload = await shopper.click(
    "order",
    orderPath,
    all(orderCheck, (a) => {
      const shown = orderStatusOf(a.html);
      if (!SETTLED.has(shown)) {
        stats.unsettled++;
        return `order still "${shown}" after ${run.options.orderTimeoutMs} ms`;
      }
      if (SETTLED.has(live) && shown !== live) return `the live status said "${live}", the page says "${shown}"`;
      if (shown === "Cancelled" && cancelReasonOf(a.html) === "") return "Cancelled without a reason";
      return undefined;
    }),
  );
  if (!SETTLED.has(live)) settledAt = reload.at;
  stats.settle.recordValue(micros(placing.intended, settledAt));
  if (orderStatusOf(reload.html) === "Cancelled") {
    const reason = unescapeHtml(cancelReasonOf(reload.html));
    stats.cancelled++;
    stats.cancelReasons[reason] = (stats.cancelReasons[reason] ?? 0) + 1;
  } else {
    stats.confirmed++;
  }
}

/** Runs the mix against a running store and reports what it measured. */
export async function runShopperMix(options: ShopperMixOptions): Promise<ShopperMixReport> {
  if (!(options.rate > 0)) throw new RangeError(`--rate must be > 0, got ${options.rate}`);
  const cycle = visitCycle(options.mix);
  if (cycle.length === 0) throw new RangeError("--mix gives every visit weight 0");
  const stats = new Stats();
  const run: ShopperRun = { options, stats, random: random(options.seed) };
  const byVisit = Object.fromEntries(VISITS.map((visit) => [visit, 0])) as Record<Visit, number>;
  const loadAverageAtStart = loadavg()[0] ?? 0;
  const inFlight = new Set<Promise<void>>();
  let started = 0;
  let dropped = 0;
  let failed = 0;
  const arrivalsRandom = random(options.seed ^ 0x5eed);
  const cpuStart = process.cpuUsage();
  const begin = performance.now();
  const endOfArrivals = begin + options.seconds * 1000;
  stats.firstArrival = begin;
  let arrival = begin;
  for (let n = 0; n < options.sessions && arrival < endOfArrivals; n++) {
    const wait = arrival - performance.now();
    if (wait > 1) await delay(wait);
    if (inFlight.size >= options.maxInFlight) dropped++;
    else {
      const visit = cycle[n % cycle.length] as Visit;
      byVisit[visit]++;
      started++;
      const shopper = new Shopper(run, arrival);
      const session = runSession(run, visit, shopper, n)
        .catch((error: unknown) => {
          if (!(error instanceof PageFailed)) {
            shopper.failed = true;
            stats.note(`${visit} session: ${error instanceof Error ? error.stack : String(error)}`);
          }
        })
        .finally(() => {
          if (shopper.failed) failed++;
          inFlight.delete(session);
        });
      inFlight.add(session);
    }
    const gap =
      options.arrivals === "even" ? 1000 / options.rate : (-Math.log(1 - arrivalsRandom()) * 1000) / options.rate;
    arrival += gap;
  }
  // Every session ends by itself: each request within 30 s, each order watch within its bound.
  await Promise.all(inFlight);
  const cpu = process.cpuUsage(cpuStart);
  const elapsedMs = Math.max(1, stats.lastAnswer - stats.firstArrival);
  const pages = Object.fromEntries(
    [...stats.pages].map(([kind, page]) => [
      kind,
      {
        requests: page.requests,
        perSecond: (page.requests * 1000) / elapsedMs,
        latencyMs: percentiles(page.latency),
        errors: page.errors,
        checkFailures: page.checks,
      },
    ]),
  ) as Record<PageKind, PageFigures>;
  const checkFailures = [...stats.pages.values()].reduce((sum, page) => sum + page.checks, 0);
  const errors = [...stats.pages.values()].reduce((sum, page) => sum + page.errors, 0);
  return {
    options,
    elapsedSeconds: elapsedMs / 1000,
    sessions: { started, dropped, failed, byVisit },
    pages,
    orders: {
      placed: stats.placed,
      confirmed: stats.confirmed,
      cancelled: stats.cancelled,
      cancelReasons: stats.cancelReasons,
      unsettled: stats.unsettled,
      confirmedPerSecond: (stats.confirmed * 1000) / elapsedMs,
      placeToFinalMs: percentiles(stats.settle),
    },
    correctness: { checkFailures, errors, failures: checkFailures + errors, samples: stats.samples },
    generator: {
      sendLagMs: percentiles(stats.lag),
      cpu: (cpu.user + cpu.system) / 1000 / (performance.now() - begin),
      cores: cpus().length,
      loadAverageAtStart,
    },
  };
}

const ms = (value: number): string => (value >= 100 ? value.toFixed(0) : value.toFixed(1));

/** The report as Markdown tables. */
export function formatReport(report: ShopperMixReport, note = ""): string {
  const { options: o, sessions, orders } = report;
  const lines = [
    `Shopper mix against ${o.url}: ${sessions.started} sessions (${VISITS.map((v) => `${v} ${sessions.byVisit[v]}`).join(", ")}), ` +
      `${o.arrivals} arrivals at ${o.rate}/s, think ${o.thinkMs} ms, ${report.elapsedSeconds.toFixed(1)} s${note}`,
    "",
    "| page        | requests | req/s | p50 ms | p99 ms | max ms | errors | check failures |",
    "| ----------- | -------: | ----: | -----: | -----: | -----: | -----: | -------------: |",
    ...PAGE_KINDS.map((kind) => {
      const p = report.pages[kind];
      return `| ${kind.padEnd(11)} | ${p.requests} | ${p.perSecond.toFixed(2)} | ${ms(p.latencyMs.p50)} | ${ms(p.latencyMs.p99)} | ${ms(p.latencyMs.max)} | ${p.errors} | ${p.checkFailures} |`;
    }),
    "",
    `Orders: ${orders.placed} placed, ${orders.confirmed} confirmed, ${orders.cancelled} cancelled` +
      `${
        Object.keys(orders.cancelReasons).length > 0
          ? ` (${Object.entries(orders.cancelReasons)
              .map(([r, n]) => `${n}× "${r}"`)
              .join(", ")})`
          : ""
      }` +
      `, ${orders.unsettled} not settled; ${orders.confirmedPerSecond.toFixed(2)} confirmed/s; place order → Confirmed/Cancelled ` +
      `p50 ${ms(orders.placeToFinalMs.p50)} ms, p99 ${ms(orders.placeToFinalMs.p99)} ms.`,
    `Correctness: ${report.correctness.checkFailures} failed checks, ${report.correctness.errors} errors; ${sessions.failed} of ${sessions.started} sessions failed; ${sessions.dropped} dropped.`,
    `Generator: send lag p99 ${ms(report.generator.sendLagMs.p99)} ms, ${report.generator.cpu.toFixed(2)} of a core; ` +
      `${report.generator.cores} cores, load average ${report.generator.loadAverageAtStart.toFixed(1)} at the start.`,
    ...report.correctness.samples.map((s) => `- ${s}`),
  ];
  return `${lines.join("\n")}\n`;
}

function parseMix(text: string): Record<Visit, number> {
  const mix = Object.fromEntries(VISITS.map((visit) => [visit, 0])) as Record<Visit, number>;
  for (const part of text.split(",")) {
    const [name = "", weight = ""] = part.split("=");
    if (!(VISITS as readonly string[]).includes(name.trim()) || !/^\d+$/.test(weight.trim())) {
      throw new RangeError(`--mix takes visit=weight pairs of ${VISITS.join(", ")}, got "${part}"`);
    }
    mix[name.trim() as Visit] = Number(weight);
  }
  return mix;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      rate: { type: "string", default: "4" },
      sessions: { type: "string", default: "200" },
      seconds: { type: "string", default: "60" },
      "think-ms": { type: "string", default: "200" },
      mix: { type: "string", default: "browse=4,search=3,cart=2,buy=1" },
      arrivals: { type: "string", default: "poisson" },
      seed: { type: "string", default: "1" },
      "order-timeout-s": { type: "string", default: "60" },
      "max-in-flight": { type: "string", default: "200" },
      "settle-s": { type: "string", default: "0" },
      json: { type: "boolean", default: false },
    },
  });
  const number = (name: string, text: string | undefined): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`--${name} must be a number ≥ 0, got "${text}"`);
    return value;
  };
  if (values.arrivals !== "poisson" && values.arrivals !== "even") {
    throw new RangeError(`--arrivals is poisson or even, got "${values.arrivals}"`);
  }
  const store = values.url === undefined ? await startStore({ RATE_LIMIT_MAX: "1000000" }) : undefined;
  const settleS = number("settle-s", values["settle-s"]);
  if (store !== undefined) {
    process.stderr.write(`shopper-mix: started the store at ${store.url} in ${Math.round(store.startMs)} ms\n`);
    // Right after a first start every service is still consuming the seed's events, and the
    // checkout's events wait behind them in the same queue (one per service): see docs/performance.md.
    if (settleS > 0) process.stderr.write(`shopper-mix: letting it settle for ${settleS} s\n`);
    await delay(settleS * 1000);
  }
  try {
    const runs: (ShopperMixReport & { storeCpu?: number })[] = [];
    for (const rate of values.rate.split(",")) {
      const cpuBefore = store?.cpuSeconds() ?? 0;
      const began = performance.now();
      const report = await runShopperMix({
        url: values.url ?? store?.url ?? "",
        rate: number("rate", rate),
        sessions: number("sessions", values.sessions),
        seconds: number("seconds", values.seconds),
        thinkMs: number("think-ms", values["think-ms"]),
        mix: parseMix(values.mix),
        arrivals: values.arrivals,
        seed: number("seed", values.seed),
        orderTimeoutMs: number("order-timeout-s", values["order-timeout-s"]) * 1000,
        maxInFlight: number("max-in-flight", values["max-in-flight"]),
      });
      const storeCpu =
        store === undefined ? undefined : ((store.cpuSeconds() - cpuBefore) * 1000) / (performance.now() - began);
      runs.push({ ...report, ...(storeCpu === undefined ? {} : { storeCpu }) });
      if (!values.json) {
        const note =
          store === undefined
            ? ""
            : `; the whole store by npm start's launcher (${Math.round(store.startMs)} ms to serve, ${settleS} s to settle), ` +
              `its processes using ${storeCpu?.toFixed(2)} of the ${report.generator.cores} cores`;
        process.stdout.write(`${formatReport(report, note)}\n`);
      }
    }
    if (values.json) {
      const startedStore = store === undefined ? {} : { startedStore: { startMs: store.startMs, settleS } };
      process.stdout.write(`${JSON.stringify({ runs, ...startedStore })}\n`);
    }
    process.exitCode = runs.every((run) => run.correctness.failures === 0) ? 0 : 1;
  } finally {
    const stopping = performance.now();
    await store?.stop();
    if (store !== undefined) {
      process.stderr.write(`shopper-mix: stopped the store in ${Math.round(performance.now() - stopping)} ms\n`);
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main().catch((error: unknown) => {
    process.stderr.write(`shopper-mix: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
}
