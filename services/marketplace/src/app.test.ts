import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { createMarketplace } from "./app.js";
import type { CategorySlug } from "./categories.js";
import { createCaptureLogger } from "./fixtures/capture-logger.js";
import type { PageBook } from "./homepage.js";
import { PREFERENCE_COOKIE } from "./preferences.js";
import type { Recommendations, RecommendationsConnectivity } from "./recommendations.js";
import type { SecurityConfig } from "./security/index.js";
import { STYLESHEET_PATH } from "./stylesheet.js";

const SECURITY: SecurityConfig = {
  rateLimitMax: 1000,
  rateLimitWindow: "1 minute",
  rateLimitExemptPaths: ["/healthz", "/readyz", "/metrics"],
  trustProxy: false,
  cookieSecret: "a-test-secret-that-is-at-least-32-characters",
  secureCookies: false,
};

/** A Recommendations double that records its calls and answers from a fixed table (or fails). */
function createRecordingRecommendations(
  answer: (category: CategorySlug) => PageBook[] | Error,
  connectivity: RecommendationsConnectivity = "READY",
) {
  const calls: { category: CategorySlug; maxResults: number; signal: AbortSignal | undefined }[] = [];
  const recommendations: Recommendations = {
    async recommend(category, maxResults, options) {
      calls.push({ category, maxResults, signal: options?.signal });
      const result = answer(category);
      if (result instanceof Error) throw result;
      return result.slice(0, maxResults);
    },
    connectivity: () => connectivity,
  };
  return { recommendations, calls };
}

const BOOKS: Record<CategorySlug, PageBook[]> = {
  mystery: [
    { id: 1, title: "The Maltese Falcon" },
    { id: 2, title: "Murder on the Orient Express" },
    { id: 3, title: "The Hound of the Baskervilles" },
  ],
  "science-fiction": [
    { id: 4, title: "The Hitchhiker's Guide to the Galaxy" },
    { id: 5, title: "Ender's Game" },
  ],
  "self-help": [{ id: 7, title: "The 7 Habits of Highly Effective People" }],
};

function listItems(html: string): string[] {
  return [...html.matchAll(/<li>(.*?)<\/li>/g)].map((m) => m[1] ?? "");
}

async function build(
  answer: (category: CategorySlug) => PageBook[] | Error = (c) => BOOKS[c],
  security: Partial<SecurityConfig> = {},
) {
  const { logger, lines } = createCaptureLogger();
  const { recommendations, calls } = createRecordingRecommendations(answer);
  const app = await createMarketplace({ recommendations, logger, security: { ...SECURITY, ...security } });
  return { app, calls, lines };
}

describe("GET /", () => {
  it("shows the tutorial's page: title, mystery heading and three books", async (t) => {
    const { app, calls } = await build();
    t.after(() => app.close());
    const response = await app.inject("/");
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(response.headers["cache-control"], "no-store");
    assert.match(response.body, /<title>Online Books For You<\/title>/);
    assert.match(response.body, /<h1>Mystery books you may like<\/h1>/);
    assert.deepEqual(listItems(response.body), [
      "The Maltese Falcon",
      "Murder on the Orient Express",
      "The Hound of the Baskervilles",
    ]);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.category, "mystery");
    assert.equal(calls[0]?.maxResults, 3);
    assert.ok(calls[0]?.signal instanceof AbortSignal);
    assert.doesNotMatch(response.body, /<script/i, "no inline script");
  });

  it("switches category with a plain link, no JavaScript needed", async (t) => {
    const { app, calls } = await build();
    t.after(() => app.close());
    const home = await app.inject("/");
    for (const slug of ["mystery", "science-fiction", "self-help"]) {
      assert.ok(home.body.includes(`<a href="/?category=${slug}"`), `picker links to ${slug}`);
    }
    const scienceFiction = await app.inject("/?category=science-fiction");
    assert.equal(scienceFiction.statusCode, 200);
    assert.match(scienceFiction.body, /<h1>Science fiction books you may like<\/h1>/);
    assert.deepEqual(listItems(scienceFiction.body), ["The Hitchhiker&#39;s Guide to the Galaxy", "Ender&#39;s Game"]);
    assert.match(
      scienceFiction.body,
      /<a href="\/\?category=science-fiction" aria-current="page">Science fiction<\/a>/,
    );
    const selfHelp = await app.inject("/?category=self-help");
    assert.match(selfHelp.body, /<h1>Self-help books you may like<\/h1>/);
    assert.deepEqual(listItems(selfHelp.body), ["The 7 Habits of Highly Effective People"]);
    assert.deepEqual(
      calls.map((c) => c.category),
      ["mystery", "science-fiction", "self-help"],
    );
  });

  it("answers 400 with a clear, escaped message for an unknown category, without calling Recommendations", async (t) => {
    const { app, calls } = await build();
    t.after(() => app.close());
    const response = await app.inject({ url: "/", query: { category: "<b>horror</b>" } });
    assert.equal(response.statusCode, 400);
    assert.equal(response.headers["content-type"], "text/html; charset=utf-8");
    assert.match(response.body, /<h1>Unknown category<\/h1>/);
    assert.ok(
      response.body.includes(
        "There is no book category &quot;&lt;b&gt;horror&lt;/b&gt;&quot;. Choose one of: mystery, science-fiction, self-help.",
      ),
      response.body,
    );
    assert.ok(!response.body.includes("<b>horror"));
    const twice = await app.inject("/?category=mystery&category=self-help");
    assert.equal(twice.statusCode, 400);
    assert.match(twice.body, /Give the category once/);
    assert.equal(calls.length, 0);
  });

  it("escapes every title", async (t) => {
    const evil = `<script>alert("x")</script> & "quotes"`;
    const { app } = await build(() => [{ id: 1, title: evil }]);
    t.after(() => app.close());
    const response = await app.inject("/");
    assert.deepEqual(listItems(response.body), [
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;",
    ]);
    assert.doesNotMatch(response.body, /<script/i);
  });

  it("shows a friendly notice instead of the books when Recommendations fails, and logs why", async (t) => {
    const failure = Object.assign(new Error("14 UNAVAILABLE: No connection established"), { code: 14 });
    const { app, lines } = await build(() => failure);
    t.after(() => app.close());
    const response = await app.inject("/?category=self-help");
    assert.equal(response.statusCode, 200);
    assert.match(response.body, /<h1>Self-help books you may like<\/h1>/);
    assert.match(
      response.body,
      /<p role="status">Recommendations are unavailable right now\. Please try again in a moment\.<\/p>/,
    );
    assert.deepEqual(listItems(response.body), []);
    assert.doesNotMatch(response.body, /UNAVAILABLE|No connection|at .*\.ts/);
    const warning = lines.find((line) => line.msg === "recommendations unavailable; serving the page without them");
    assert.ok(warning, "the failure is logged");
    assert.equal(warning.level, 40);
    assert.equal(warning.category, "self-help");
    assert.match(JSON.stringify(warning.err), /No connection established/);
  });

  it("says so when a category has no books", async (t) => {
    const { app } = await build(() => []);
    t.after(() => app.close());
    const response = await app.inject("/");
    assert.equal(response.statusCode, 200);
    assert.match(response.body, /There are no books in this category yet\./);
  });
});

describe("other routes", () => {
  it("serves liveness and readiness with the channel state", async (t) => {
    const { logger } = createCaptureLogger();
    const { recommendations } = createRecordingRecommendations(() => [], "TRANSIENT_FAILURE");
    const app = await createMarketplace({ recommendations, logger });
    t.after(() => app.close());
    const live = await app.inject("/healthz");
    assert.equal(live.statusCode, 200);
    assert.deepEqual(live.json(), { status: "ok" });
    const ready = await app.inject("/readyz");
    assert.equal(ready.statusCode, 200, "stays ready while Recommendations is down: the page degrades");
    assert.deepEqual(ready.json(), { status: "ready", recommendations: "TRANSIENT_FAILURE" });
  });

  it("links one stylesheet, served as CSS under a content-hashed path that may be cached forever", async (t) => {
    const { logger } = createCaptureLogger();
    const { recommendations } = createRecordingRecommendations(() => []);
    const app = await createMarketplace({ recommendations, logger });
    t.after(() => app.close());
    const page = await app.inject("/");
    const href = /<link rel="stylesheet" href="(\/assets\/site\.[0-9a-f]{12}\.css)">/.exec(page.body)?.[1];
    assert.ok(href, "the page links the stylesheet");
    assert.doesNotMatch(page.body, /<style|style=/, "no inline styles (CSP style-src 'self')");
    const css = await app.inject(href);
    assert.equal(css.statusCode, 200);
    assert.match(String(css.headers["content-type"]), /^text\/css/);
    assert.equal(css.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.match(css.body, /nav a\[aria-current="page"\]/);
    const again = await app.inject({ url: href, headers: { "if-none-match": String(css.headers.etag) } });
    assert.equal(again.statusCode, 304);
    assert.equal((await app.inject("/assets/site.000000000000.css")).statusCode, 404, "only the current hash exists");
  });

  it("answers unknown paths with an HTML 404 that escapes the path", async (t) => {
    const { app } = await build();
    t.after(() => app.close());
    const response = await app.inject("/nope/%3Cscript%3E");
    assert.equal(response.statusCode, 404);
    assert.equal(response.headers["content-type"], "text/html; charset=utf-8");
    assert.match(response.body, /<h1>Page not found<\/h1>/);
    assert.doesNotMatch(response.body, /<script/i);
  });

  it("turns an unexpected error into a generic 500 page and logs the cause", async (t) => {
    const { logger, lines } = createCaptureLogger();
    const { recommendations } = createRecordingRecommendations(() => []);
    const app = await createMarketplace({ recommendations, logger });
    app.get("/boom", async () => {
      throw new Error("secret internal detail");
    });
    t.after(() => app.close());
    const response = await app.inject("/boom");
    assert.equal(response.statusCode, 500);
    assert.match(response.body, /Something went wrong on our side/);
    assert.doesNotMatch(response.body, /secret internal detail/);
    assert.ok(lines.some((line) => line.msg === "request failed" && JSON.stringify(line.err).includes("secret")));
  });
});

/** `name=value` pairs to send back, from a response's set-cookie headers. */
function cookiesOf(response: LightMyRequestResponse): string {
  return response.cookies.map((c) => `${c.name}=${c.value}`).join("; ");
}

function csrfTokenIn(html: string): string {
  const match = /<input type="hidden" name="_csrf" value="([^"]+)">/.exec(html);
  assert.ok(match?.[1], "the page has a form with a CSRF token");
  return match[1];
}

const FORM = { "content-type": "application/x-www-form-urlencoded" };

describe("security of the shopper's pages", () => {
  it("sends the security headers on the homepage, over a real socket", async (t) => {
    const { app } = await build();
    t.after(() => app.close());
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    assert.ok(typeof address === "object" && address !== null);
    for (const path of ["/", "/nope", "/?category=horror"]) {
      const response = await fetch(`http://127.0.0.1:${address.port}${path}`);
      await response.text();
      const csp = response.headers.get("content-security-policy") ?? "";
      const directives = new Map(
        csp.split(";").map((d) => {
          const [name = "", ...values] = d.trim().split(/\s+/);
          return [name, values] as const;
        }),
      );
      assert.deepEqual(directives.get("script-src"), ["'self'"], `${path}: ${csp}`);
      assert.deepEqual(directives.get("style-src"), ["'self'"], csp);
      assert.deepEqual(directives.get("frame-ancestors"), ["'none'"], csp);
      assert.deepEqual(directives.get("form-action"), ["'self'"], csp);
      assert.ok(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval"), csp);
      assert.equal(response.headers.get("x-content-type-options"), "nosniff");
      assert.equal(response.headers.get("x-frame-options"), "DENY");
      assert.equal(response.headers.get("referrer-policy"), "strict-origin-when-cross-origin");
      assert.equal(response.headers.get("x-powered-by"), null);
    }
  });

  it("embeds the preferences form with a CSRF token, and saves the category only with the token", async (t) => {
    const { app, calls } = await build();
    t.after(() => app.close());
    const home = await app.inject("/");
    assert.match(home.body, /<form method="post" action="\/preferences">/);
    assert.match(home.body, /<button type="submit">Save as my default category<\/button>/);
    assert.match(home.body, /<option value="mystery" selected>Mystery<\/option>/);
    const token = csrfTokenIn(home.body);
    const csrfCookie = home.cookies.find((c) => c.name === "_csrf");
    assert.equal(csrfCookie?.httpOnly, true);
    assert.equal(csrfCookie?.sameSite, "Strict");

    const withoutToken = await app.inject({
      method: "POST",
      url: "/preferences",
      headers: { ...FORM, cookie: cookiesOf(home) },
      payload: "category=self-help",
    });
    assert.equal(withoutToken.statusCode, 403);
    assert.equal(withoutToken.headers["content-type"], "text/html; charset=utf-8");
    assert.match(withoutToken.body, /<h1>Forbidden<\/h1>/);
    assert.match(withoutToken.body, /This form has expired or did not come from this site, so it was not saved\./);
    assert.equal(
      withoutToken.cookies.find((c) => c.name === PREFERENCE_COOKIE),
      undefined,
    );
    const withoutCookie = await app.inject({
      method: "POST",
      url: "/preferences",
      headers: FORM,
      payload: `category=self-help&_csrf=${encodeURIComponent(token)}`,
    });
    assert.equal(withoutCookie.statusCode, 403);
    assert.match(withoutCookie.body, /your browser did not send back the cookie this site set/);

    const saved = await app.inject({
      method: "POST",
      url: "/preferences",
      headers: { ...FORM, cookie: cookiesOf(home) },
      payload: `category=self-help&_csrf=${encodeURIComponent(token)}`,
    });
    assert.equal(saved.statusCode, 303);
    assert.equal(saved.headers.location, "/?category=self-help");

    // The next visit to / (the browser sends the cookie back) shows the saved category.
    const next = await app.inject({ url: "/", headers: { cookie: cookiesOf(saved) } });
    assert.equal(next.statusCode, 200);
    assert.match(next.body, /<h1>Self-help books you may like<\/h1>/);
    assert.deepEqual(listItems(next.body), ["The 7 Habits of Highly Effective People"]);
    assert.match(next.body, /<option value="self-help" selected>/);
    // A category in the URL still wins over the saved one.
    const chosen = await app.inject({ url: "/?category=mystery", headers: { cookie: cookiesOf(saved) } });
    assert.match(chosen.body, /<h1>Mystery books you may like<\/h1>/);
    assert.deepEqual(
      calls.map((c) => c.category),
      ["mystery", "self-help", "mystery"],
    );
  });

  it("answers 429 with a clear message and Retry-After after RATE_LIMIT_MAX requests; probes are exempt", async (t) => {
    const { app, calls } = await build(undefined, { rateLimitMax: 3 });
    t.after(() => app.close());
    for (let i = 0; i < 3; i++) assert.equal((await app.inject("/")).statusCode, 200);
    const limited = await app.inject("/?category=self-help");
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.headers["content-type"], "text/html; charset=utf-8");
    assert.match(limited.body, /<h1>Too Many Requests<\/h1>/);
    assert.match(
      limited.body,
      /<p>Too many requests: the limit is 3 per 1 minute\. Try again in (1 minute|\d+ seconds?)\.<\/p>/,
    );
    assert.ok(Number(limited.headers["retry-after"]) > 0);
    assert.equal(limited.headers["x-content-type-options"], "nosniff");
    assert.equal(calls.length, 3, "a limited request does not reach Recommendations");
    // The form is limited too, and probes are not.
    assert.equal(
      (await app.inject({ method: "POST", url: "/preferences", headers: FORM, payload: "" })).statusCode,
      429,
    );
    for (let i = 0; i < 5; i++) {
      assert.equal((await app.inject("/healthz")).statusCode, 200);
      assert.equal((await app.inject("/readyz")).statusCode, 200);
    }
    // Another client is not affected.
    assert.equal((await app.inject({ url: "/", remoteAddress: "10.0.0.2" })).statusCode, 200);
  });

  it("renders hostile titles, categories and cookies as text in every context", async (t) => {
    const evil = `"><script>alert(1)</script><a href="javascript:alert(2)" x='`;
    const { app } = await build(() => [{ id: 1, title: evil }]);
    t.after(() => app.close());
    const page = await app.inject({
      url: "/",
      headers: { cookie: `${PREFERENCE_COOKIE}=${encodeURIComponent(evil)}` },
    });
    assert.equal(page.statusCode, 200);
    // Text context: the title is one list item, entities only.
    assert.deepEqual(listItems(page.body), [
      "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;a href=&quot;javascript:alert(2)&quot; x=&#39;",
    ]);
    // Attribute and URL contexts: the only ones are ours (links, form), none carries the input,
    // and a forged preference cookie is ignored (mystery is shown), not echoed.
    assert.doesNotMatch(page.body, /<script|="javascript:|x='/i);
    assert.match(page.body, /<h1>Mystery books you may like<\/h1>/);
    const hrefs = [...page.body.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(hrefs, [
      "data:,",
      STYLESHEET_PATH,
      "/",
      "/?category=mystery",
      "/?category=science-fiction",
      "/?category=self-help",
    ]);

    // A hostile category in the URL is an escaped 400, and the form never posts it back.
    const bad = await app.inject({ url: "/", query: { category: evil } });
    assert.equal(bad.statusCode, 400);
    assert.doesNotMatch(bad.body, /<script|<a href="javascript/i);
    assert.ok(bad.body.includes("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
  });
});
