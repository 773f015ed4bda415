import { STATUS_CODES } from "node:http";
import { ClientError } from "@obfy/kit/client";
import { createHttpTracingPlugin } from "@obfy/kit/http";
import type { Metrics, Tracing } from "@obfy/kit/observability";
import fastify, { type FastifyBaseLogger, LogController } from "fastify";
import type { Logger } from "pino";
import { CATEGORY_SLUGS, DEFAULT_CATEGORY, isCategorySlug } from "./categories.js";
import { type HomepageContent, renderErrorPage, renderHomepage } from "./homepage.js";
import { preferredCategory, registerPreferences, renderPreferencesForm } from "./preferences.js";
import type { Recommendations } from "./recommendations.js";
import { readSecurityConfig, registerSecurity, type SecurityConfig } from "./security/index.js";
import { STYLESHEET, STYLESHEET_ETAG, STYLESHEET_PATH } from "./stylesheet.js";

/** How many books the homepage shows, as in the tutorial. */
export const BOOKS_PER_PAGE = 3;

/** Dependencies and options of {@link createMarketplace}. */
export interface MarketplaceOptions {
  /** Where the books come from. */
  readonly recommendations: Recommendations;
  /** The process logger; fastify binds a child per request. */
  readonly logger: Logger;
  /** Log one line per request (`LOG_REQUESTS`); off by default because the homepage is a hot path. */
  readonly logRequests?: boolean;
  /** Books per page; {@link BOOKS_PER_PAGE} by default. */
  readonly booksPerPage?: number;
  /** Headers, rate limits and cookies; read from the environment (`readSecurityConfig()`) by default. */
  readonly security?: SecurityConfig;
  /** Records `http_server_request_duration_seconds` on its registry when given. */
  readonly metrics?: Pick<Metrics, "httpPlugin">;
  /** Traces every request (continuing an incoming `traceparent`) with this provider when given. */
  readonly tracerProvider?: Tracing["provider"];
}

interface HomepageQuery {
  category?: string | string[];
}

const HTML = "text/html; charset=utf-8";

/**
 * Log fields for a failed Recommendations call. A gRPC status is an expected outage (code and
 * details say it all, a stack trace would be noise on every page view); anything else is a bug
 * and keeps its stack.
 */
function failureFields(error: unknown, category: string): Record<string, unknown> {
  if (error instanceof ClientError) return { category, grpc_code: error.codeName, details: error.details };
  return { category, err: error };
}
const CATEGORY_CHOICES = CATEGORY_SLUGS.join(", ");

/**
 * What a shopper reads for a 4xx error, by fastify error code, where the library's own message is
 * terse. Other 4xx errors show their own message: fastify and its plugins describe the request
 * there, never server internals.
 */
const CLIENT_ERROR_MESSAGES: Readonly<Record<string, string>> = {
  FST_CSRF_MISSING_SECRET:
    "This form could not be checked: your browser did not send back the cookie this site set. Allow cookies for this site, reload the page and try again.",
  FST_CSRF_INVALID_TOKEN:
    "This form has expired or did not come from this site, so it was not saved. Reload the page and try again.",
};

function errorField(error: unknown, field: "statusCode" | "code" | "message"): unknown {
  return typeof error === "object" && error !== null && field in error
    ? (error as Record<typeof field, unknown>)[field]
    : undefined;
}

/**
 * Builds the Marketplace web app without listening: `GET /` (the homepage, `?category=` picks the
 * category, else the shopper's saved one, else mystery), `POST /preferences` (saves the category,
 * CSRF-protected), `GET /healthz` and `GET /readyz`. Await it, then call `listen()` on the result,
 * or `inject()` in tests.
 *
 * Order matters and is fixed here: observability first (the tracing plugin wraps route handlers
 * as they are registered, and both time everything after them), then security (helmet's headers
 * and rate limiting attach to every route declared afterwards), then the routes.
 *
 * When Recommendations is down or slow the homepage still answers 200, with a notice in place of
 * the books: the rest of the page does not depend on it. The deadline that bounds the wait lives
 * in the {@link Recommendations} implementation.
 */
export async function createMarketplace(options: MarketplaceOptions) {
  const { recommendations } = options;
  const booksPerPage = options.booksPerPage ?? BOOKS_PER_PAGE;
  const security = options.security ?? readSecurityConfig();
  // Typed as fastify's base logger so the app is a plain FastifyInstance, which the plugins take.
  const loggerInstance: FastifyBaseLogger = options.logger;
  const app = fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: options.logRequests !== true }),
    // Let fastify.close() end idle keep-alive sockets so shutdown does not wait for browsers to hang up.
    forceCloseConnections: "idle",
    trustProxy: security.trustProxy,
  });

  // First, so the scopes plugins open below (the preferences form) inherit it. Server errors
  // never show a stack trace or internal message, and are logged with their cause.
  // Client errors (4xx: rate limiting, CSRF, malformed requests) say what was wrong with the request.
  app.setErrorHandler((error, request, reply) => {
    const statusCode = errorField(error, "statusCode");
    const code = typeof statusCode === "number" && statusCode >= 400 && statusCode < 600 ? statusCode : 500;
    if (code >= 500) {
      request.log.error({ err: error }, "request failed");
      return reply
        .code(code)
        .type(HTML)
        .send(renderErrorPage("Something went wrong", "Something went wrong on our side. Please try again."));
    }
    const errorCode = errorField(error, "code");
    const message = errorField(error, "message");
    const text =
      (typeof errorCode === "string" ? CLIENT_ERROR_MESSAGES[errorCode] : undefined) ??
      (typeof message === "string" && message !== "" ? message : (STATUS_CODES[code] ?? "Bad request"));
    // Headers the error came with, e.g. Retry-After on a 429, are already on the reply.
    return reply
      .code(code)
      .type(HTML)
      .send(renderErrorPage(STATUS_CODES[code] ?? "Bad request", text));
  });

  if (options.tracerProvider !== undefined) {
    await app.register(createHttpTracingPlugin({ tracerProvider: options.tracerProvider }));
  }
  if (options.metrics !== undefined) await app.register(options.metrics.httpPlugin);
  await registerSecurity(app, security);
  await registerPreferences(app, { secureCookies: security.secureCookies });

  // On close, fastify stops accepting and ends idle keep-alive connections, but a connection that
  // is busy with an in-flight request would then stay open until its keep-alive timeout (72 s in
  // fastify) and hold the shutdown up. Answering such requests with `Connection: close` ends
  // their connection right after the response.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  // A callback hook, not an async one: it runs on every response, and an async hook costs a
  // promise and its microtasks each time.
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (closing) reply.header("connection", "close");
    done(null, payload);
  });

  app.get<{ Querystring: HomepageQuery }>("/", async (request, reply) => {
    reply.type(HTML).header("cache-control", "no-store");
    const category = request.query.category ?? preferredCategory(request) ?? DEFAULT_CATEGORY;
    if (Array.isArray(category)) {
      return reply
        .code(400)
        .send(renderErrorPage("Bad request", `Give the category once, e.g. /?category=${DEFAULT_CATEGORY}.`));
    }
    if (!isCategorySlug(category)) {
      return reply
        .code(400)
        .send(
          renderErrorPage(
            "Unknown category",
            `There is no book category "${category}". Choose one of: ${CATEGORY_CHOICES}.`,
          ),
        );
    }
    // Also sets the CSRF secret cookie the first time; the token goes into the form.
    const csrfToken = reply.generateCsrf();

    // Abort the downstream call if the browser goes away before we answer.
    const controller = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) controller.abort();
    };
    reply.raw.once("close", onClose);
    let content: HomepageContent;
    try {
      content = { books: await recommendations.recommend(category, booksPerPage, { signal: controller.signal }) };
    } catch (error) {
      if (controller.signal.aborted) request.log.debug({ err: error }, "client went away before recommendations came");
      else
        request.log.warn(failureFields(error, category), "recommendations unavailable; serving the page without them");
      content = { unavailable: true };
    } finally {
      reply.raw.removeListener("close", onClose);
    }
    return reply.send(renderHomepage(category, content, renderPreferencesForm(csrfToken, category)));
  });

  // The stylesheet: a content-hashed path, so it may be cached forever (a new release links a new path).
  app.get(STYLESHEET_PATH, async (request, reply) => {
    reply.header("cache-control", "public, max-age=31536000, immutable").header("etag", STYLESHEET_ETAG);
    if (request.headers["if-none-match"] === STYLESHEET_ETAG) return reply.code(304).send();
    return reply.type("text/css; charset=utf-8").send(STYLESHEET);
  });

  // Liveness: the process is up and the event loop turns. Nothing else, so a Recommendations
  // outage never gets the Marketplace restarted.
  app.get("/healthz", async () => ({ status: "ok" }));

  // Readiness: ready whenever this process can serve pages, even while Recommendations is down,
  // because the homepage degrades to a notice instead of failing. Taking every Marketplace
  // replica out of the load balancer would turn a partial outage into a full one. The channel
  // state is reported for operators. During shutdown fastify answers 503 on its own.
  app.get("/readyz", async () => ({ status: "ready", recommendations: recommendations.connectivity() }));

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .type(HTML)
      .send(renderErrorPage("Page not found", `There is no page at ${request.url}. The bookshop starts at /.`));
  });

  return app;
}

/** The app {@link createMarketplace} returns. */
export type Marketplace = Awaited<ReturnType<typeof createMarketplace>>;
