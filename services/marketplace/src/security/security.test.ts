import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fastifyFormbody from "@fastify/formbody";
import fastify, { type LightMyRequestResponse } from "fastify";
import { eta } from "../views.js";
import { escapeAttr, escapeHtml, safeUrl } from "./escape.js";
import { CSP_DIRECTIVES, readSecurityConfig, registerSecurity, type SecurityConfig } from "./index.js";

const CONFIG: SecurityConfig = {
  rateLimitMax: 1000,
  rateLimitWindow: "1 minute",
  rateLimitExemptPaths: ["/healthz", "/readyz", "/metrics"],
  trustProxy: false,
  cookieSecret: "a-test-secret-that-is-at-least-32-characters",
  secureCookies: false,
};

/** A minimal app the way the Marketplace wires it: security first, then routes. */
async function buildApp(config: SecurityConfig = CONFIG) {
  const app = fastify({ logger: false });
  await registerSecurity(app, config);
  await app.register(fastifyFormbody);
  app.get("/", async (_request, reply) => {
    const token = reply.generateCsrf();
    return reply
      .type("text/html; charset=utf-8")
      .send(
        `<!doctype html><form method="post" action="/form"><input type="hidden" name="_csrf" value="${escapeAttr(token)}"></form>`,
      );
  });
  app.post<{ Body: { note?: string } }>("/form", { preHandler: app.csrfProtection.bind(app) }, async (request, reply) =>
    reply.redirect(`/?note=${encodeURIComponent(request.body?.note ?? "")}`, 303),
  );
  app.get("/healthz", async () => ({ status: "ok" }));
  await app.ready();
  return app;
}

/** `name=value` pairs to send back, from a response's set-cookie headers. */
function cookiesOf(response: LightMyRequestResponse): string {
  return response.cookies.map((c) => `${c.name}=${c.value}`).join("; ");
}

function tokenIn(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  assert.ok(match?.[1], "the form carries a CSRF token");
  return match[1];
}

describe("security headers", () => {
  test("CSP without inline script, no framing, nosniff, referrer policy, no X-Powered-By", async (t) => {
    const app = await buildApp();
    t.after(() => app.close());
    const response = await app.inject({ method: "GET", url: "/" });
    assert.equal(response.statusCode, 200);
    const csp = String(response.headers["content-security-policy"]);
    const directives = new Map(
      csp.split(";").map((d) => {
        const [name = "", ...values] = d.trim().split(/\s+/);
        return [name, values] as const;
      }),
    );
    assert.deepEqual(directives.get("script-src"), ["'self'"]);
    assert.deepEqual(directives.get("frame-ancestors"), ["'none'"]);
    assert.deepEqual(directives.get("object-src"), ["'none'"]);
    assert.ok(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval"), csp);
    assert.equal(response.headers["x-content-type-options"], "nosniff");
    assert.equal(response.headers["x-frame-options"], "DENY");
    assert.equal(response.headers["referrer-policy"], "strict-origin-when-cross-origin");
    assert.equal(response.headers["x-powered-by"], undefined);
    // Error pages get the headers too.
    const missing = await app.inject({ method: "GET", url: "/nope" });
    assert.equal(missing.headers["x-content-type-options"], "nosniff");
    assert.ok(String(missing.headers["content-security-policy"]).includes("frame-ancestors 'none'"));
    assert.equal(CSP_DIRECTIVES.upgradeInsecureRequests, null);
  });
});

describe("rate limiting", () => {
  test("429 with a clear message after the limit; health is exempt", async (t) => {
    const app = await buildApp({ ...CONFIG, rateLimitMax: 3 });
    t.after(() => app.close());
    for (let i = 0; i < 3; i++) assert.equal((await app.inject({ method: "GET", url: "/" })).statusCode, 200);
    const limited = await app.inject({ method: "GET", url: "/?category=mystery" });
    assert.equal(limited.statusCode, 429);
    assert.match(
      limited.json<{ message: string }>().message,
      /^Too many requests: the limit is 3 per 1 minute\. Try again in (1 minute|\d+ seconds?)\.$/,
    );
    assert.ok(Number(limited.headers["retry-after"]) > 0);
    // Another client is not affected.
    assert.equal((await app.inject({ method: "GET", url: "/", remoteAddress: "10.0.0.2" })).statusCode, 200);
    for (let i = 0; i < 10; i++) assert.equal((await app.inject({ method: "GET", url: "/healthz" })).statusCode, 200);
  });

  test("TRUST_PROXY lets the limit see each shopper behind a proxy, and only then", async (t) => {
    const build = async (trustProxy: SecurityConfig["trustProxy"]) => {
      const app = fastify({ logger: false, trustProxy });
      await registerSecurity(app, { ...CONFIG, rateLimitMax: 2, trustProxy });
      app.get("/", async () => "ok");
      await app.ready();
      t.after(() => app.close());
      // Every request arrives from the same proxy; X-Forwarded-For names the shopper.
      return (shopper: string) =>
        app.inject({ method: "GET", url: "/", remoteAddress: "192.0.2.10", headers: { "x-forwarded-for": shopper } });
    };
    const trusted = await build(readSecurityConfig({ TRUST_PROXY: "1" }).trustProxy);
    assert.equal((await trusted("203.0.113.7")).statusCode, 200);
    assert.equal((await trusted("203.0.113.7")).statusCode, 200);
    assert.equal((await trusted("203.0.113.7")).statusCode, 429);
    assert.equal((await trusted("203.0.113.8")).statusCode, 200, "another shopper behind the same proxy");

    const untrusted = await build(readSecurityConfig({}).trustProxy);
    assert.equal((await untrusted("203.0.113.7")).statusCode, 200);
    assert.equal((await untrusted("203.0.113.8")).statusCode, 200);
    assert.equal((await untrusted("203.0.113.9")).statusCode, 429, "without TRUST_PROXY the proxy is the client");

    assert.deepEqual(readSecurityConfig({ TRUST_PROXY: "10.0.0.0/8, 127.0.0.1" }).trustProxy, [
      "10.0.0.0/8",
      "127.0.0.1",
    ]);
    assert.equal(readSecurityConfig({ TRUST_PROXY: "true" }).trustProxy, true);
    assert.throws(
      () => readSecurityConfig({ TRUST_PROXY: "the ingress" }),
      /TRUST_PROXY must be true, false, a hop count/,
    );
  });

  test("RATE_LIMIT_* and COOKIE_* are read with clear errors", () => {
    const config = readSecurityConfig({ RATE_LIMIT_MAX: "5", RATE_LIMIT_WINDOW: "30 seconds" });
    assert.equal(config.rateLimitMax, 5);
    assert.equal(config.rateLimitWindow, "30 seconds");
    assert.equal(config.secureCookies, false);
    assert.equal(readSecurityConfig({ RATE_LIMIT_WINDOW: "60000" }).rateLimitWindow, 60000);
    assert.throws(
      () => readSecurityConfig({ RATE_LIMIT_MAX: "lots" }),
      /RATE_LIMIT_MAX must be a positive integer, got "lots"/,
    );
    assert.throws(() => readSecurityConfig({ RATE_LIMIT_WINDOW: "soon" }), /RATE_LIMIT_WINDOW must be milliseconds/);
    assert.throws(() => readSecurityConfig({ NODE_ENV: "production" }), /COOKIE_SECRET must be set in production/);
    assert.throws(() => readSecurityConfig({ COOKIE_SECRET: "short" }), /at least 32 characters/);
    const production = readSecurityConfig({ NODE_ENV: "production", COOKIE_SECRET: "x".repeat(32) });
    assert.equal(production.secureCookies, true);
  });
});

describe("CSRF-protected forms", () => {
  test("POST without a token, with a bad token, or without the secret cookie is 403", async (t) => {
    const app = await buildApp();
    t.after(() => app.close());
    const page = await app.inject({ method: "GET", url: "/" });
    const token = tokenIn(page.body);
    const cookie = cookiesOf(page);
    assert.match(cookie, /_csrf=/);
    const form = (body: string, cookieHeader?: string) =>
      app.inject({
        method: "POST",
        url: "/form",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          ...(cookieHeader ? { cookie: cookieHeader } : {}),
        },
        payload: body,
      });
    assert.equal((await form("note=hi", cookie)).statusCode, 403);
    assert.equal((await form(`note=hi&_csrf=${encodeURIComponent(`${token}x`)}`, cookie)).statusCode, 403);
    assert.equal((await form(`note=hi&_csrf=${encodeURIComponent(token)}`)).statusCode, 403);
    // A token from another visitor's page does not match this visitor's secret.
    const other = await app.inject({ method: "GET", url: "/", remoteAddress: "10.0.0.9" });
    assert.equal((await form(`note=hi&_csrf=${encodeURIComponent(tokenIn(other.body))}`, cookie)).statusCode, 403);
    // The right token with its cookie goes through.
    const ok = await form(`note=hi&_csrf=${encodeURIComponent(token)}`, cookie);
    assert.equal(ok.statusCode, 303);
    assert.equal(ok.headers.location, "/?note=hi");
  });
});

describe("escaping helpers", () => {
  test("HTML text and quoted attributes", () => {
    assert.equal(
      escapeHtml(`<script>alert("x")</script> & 'y'`),
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;",
    );
    assert.equal(escapeAttr(`" onmouseover="alert(1)`), "&quot; onmouseover=&quot;alert(1)");
    assert.equal(escapeAttr("it's"), "it&#39;s");
  });

  test("URLs: only relative, http(s) and mailto survive", () => {
    assert.equal(safeUrl("/?category=mystery"), "/?category=mystery");
    assert.equal(safeUrl("https://example.com/a?b=c"), "https://example.com/a?b=c");
    assert.equal(safeUrl("mailto:books@example.com"), "mailto:books@example.com");
    for (const bad of [
      "javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      " javascript:alert(1)",
      "java\tscript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "vbscript:msgbox(1)",
      "//evil.example/",
      "\\\\evil.example",
    ]) {
      assert.equal(safeUrl(bad), "#", bad);
    }
  });

  test("the templates escape what they print: a form field's value and error", () => {
    const evil = `"><script>alert(1)</script>`;
    const html = eta.render("./partials/field", { id: "x", name: "x", label: "X", value: evil, error: evil });
    assert.ok(!html.includes("<script>"), html);
    assert.ok(html.includes('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"'), html);
  });
});
