import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createMarketplace } from "./app.js";
import type { CategorySlug } from "./categories.js";
import { createCaptureLogger } from "./fixtures/capture-logger.js";
import type { PageBook } from "./homepage.js";
import type { Recommendations, RecommendationsConnectivity } from "./recommendations.js";

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

function build(answer: (category: CategorySlug) => PageBook[] | Error = (c) => BOOKS[c]) {
  const { logger, lines } = createCaptureLogger();
  const { recommendations, calls } = createRecordingRecommendations(answer);
  const app = createMarketplace({ recommendations, logger });
  return { app, calls, lines };
}

describe("GET /", () => {
  it("shows the tutorial's page: title, mystery heading and three books", async (t) => {
    const { app, calls } = build();
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
    const { app, calls } = build();
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
    const { app, calls } = build();
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
    const { app } = build(() => [{ id: 1, title: evil }]);
    t.after(() => app.close());
    const response = await app.inject("/");
    assert.deepEqual(listItems(response.body), [
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;",
    ]);
    assert.doesNotMatch(response.body, /<script/i);
  });

  it("shows a friendly notice instead of the books when Recommendations fails, and logs why", async (t) => {
    const failure = Object.assign(new Error("14 UNAVAILABLE: No connection established"), { code: 14 });
    const { app, lines } = build(() => failure);
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
    const { app } = build(() => []);
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
    const app = createMarketplace({ recommendations, logger });
    t.after(() => app.close());
    const live = await app.inject("/healthz");
    assert.equal(live.statusCode, 200);
    assert.deepEqual(live.json(), { status: "ok" });
    const ready = await app.inject("/readyz");
    assert.equal(ready.statusCode, 200, "stays ready while Recommendations is down: the page degrades");
    assert.deepEqual(ready.json(), { status: "ready", recommendations: "TRANSIENT_FAILURE" });
  });

  it("answers unknown paths with an HTML 404 that escapes the path", async (t) => {
    const { app } = build();
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
    const app = createMarketplace({ recommendations, logger });
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
