import { STATUS_CODES } from "node:http";
import fastifyFormbody from "@fastify/formbody";
import { createHttpTracingPlugin } from "@obfy/kit/http";
import type { Metrics, Tracing } from "@obfy/kit/observability";
import fastify, { type FastifyBaseLogger, LogController } from "fastify";
import type { Logger } from "pino";
import { DEFAULT_CALL_TIMEOUT_MS } from "./calls.js";
import { type RouteContext, sendError } from "./page.js";
import { registerAccountRoutes } from "./routes/account.js";
import { registerAdminRoutes } from "./routes/admin.js";
import { registerOrderRoutes } from "./routes/orders.js";
import { registerShopRoutes } from "./routes/shop.js";
import { SCRIPT, SCRIPT_ETAG, SCRIPT_PATH } from "./script.js";
import { readSecurityConfig, registerSecurity, type SecurityConfig } from "./security/index.js";
import { SessionCookies } from "./session.js";
import type { Store } from "./store.js";
import { STYLESHEET, STYLESHEET_ETAG, STYLESHEET_PATH } from "./stylesheet.js";
import { eta } from "./views.js";

/** Dependencies and options of {@link createMarketplace}. */
export interface MarketplaceOptions {
  /** gRPC clients of the store services. */
  readonly store: Store;
  /** The process logger; fastify binds a child per request. */
  readonly logger: Logger;
  /** Log one line per request (`LOG_REQUESTS`); off by default because pages are a hot path. */
  readonly logRequests?: boolean;
  /** Headers, rate limits and cookies; read from the environment (`readSecurityConfig()`) by default. */
  readonly security?: SecurityConfig;
  /** Deadline of each read a page makes (`CALL_TIMEOUT_MS`). */
  readonly callTimeoutMs?: number;
  /** Where the back-office links the live dashboard (`DASHBOARD_URL`). */
  readonly dashboardUrl?: string;
  /** Records `http_server_request_duration_seconds` on its registry when given. */
  readonly metrics?: Pick<Metrics, "httpPlugin">;
  /** Traces every request (continuing an incoming `traceparent`) with this provider when given. */
  readonly tracerProvider?: Tracing["provider"];
}

const HTML = "text/html; charset=utf-8";

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
  FST_ERR_CTP_BODY_TOO_LARGE: "What you sent is too long. Shorten it and try again.",
};

function errorField(error: unknown, field: "statusCode" | "code" | "message"): unknown {
  return typeof error === "object" && error !== null && field in error
    ? (error as Record<typeof field, unknown>)[field]
    : undefined;
}

/** Paths that never need the shopper (assets, probes). */
function isStatic(url: string): boolean {
  return url.startsWith("/assets/") || url === "/healthz" || url === "/readyz" || url.endsWith("/cover.svg");
}

/**
 * Builds the Marketplace web app without listening: the shop's pages (home, categories, search,
 * book pages, account, cart, checkout, orders), the back-office under `/admin`, assets and
 * probes. Await it, then `listen()`, or `inject()` in tests.
 *
 * Order matters and is fixed here: observability first (the tracing plugin wraps route handlers
 * as they are registered), then security (headers, rate limits, cookies, CSRF), then form
 * parsing, the shopper hook, and the routes.
 */
export async function createMarketplace(options: MarketplaceOptions) {
  const { store } = options;
  const security = options.security ?? readSecurityConfig();
  const loggerInstance: FastifyBaseLogger = options.logger;
  const app = fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: options.logRequests !== true }),
    forceCloseConnections: "idle",
    trustProxy: security.trustProxy,
  });

  // Server errors never show a stack trace or internal message, and are logged with their cause.
  // Client errors (4xx) say what was wrong with the request.
  app.setErrorHandler((error, request, reply) => {
    const statusCode = errorField(error, "statusCode");
    const code = typeof statusCode === "number" && statusCode >= 400 && statusCode < 600 ? statusCode : 500;
    const heading = STATUS_CODES[code] ?? "Bad request";
    if (code >= 500) {
      request.log.error({ err: error }, "request failed");
      return reply
        .code(code)
        .type(HTML)
        .send(renderBareError("Something went wrong", "Something went wrong on our side. Please try again."));
    }
    const errorCode = errorField(error, "code");
    const message = errorField(error, "message");
    const text =
      (typeof errorCode === "string" ? CLIENT_ERROR_MESSAGES[errorCode] : undefined) ??
      (typeof message === "string" && message !== "" ? message : heading);
    return reply.code(code).type(HTML).send(renderBareError(heading, text));
  });

  if (options.tracerProvider !== undefined) {
    await app.register(createHttpTracingPlugin({ tracerProvider: options.tracerProvider }));
  }
  if (options.metrics !== undefined) await app.register(options.metrics.httpPlugin);
  await registerSecurity(app, security);
  // Forms only (no JSON API): a review is at most 2,000 characters, so 16 KiB is plenty.
  await app.register(fastifyFormbody, { bodyLimit: 16 * 1024 });

  const sessions = new SessionCookies(store, {
    secure: security.secureCookies,
    timeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
  });
  app.decorateRequest("shopper", undefined);
  app.decorateRequest("accountsUnavailable", false);
  app.addHook("preHandler", async (request, reply) => {
    if (isStatic(request.url)) return;
    const { shopper, unavailable } = await sessions.shopper(request, reply);
    request.shopper = shopper;
    request.accountsUnavailable = unavailable;
  });

  // On close, end long-lived responses (SSE) and answer in-flight requests with
  // `Connection: close`, so a shutdown is not held up by keep-alive connections.
  const closing = new AbortController();
  app.addHook("preClose", async () => {
    closing.abort();
  });
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (closing.signal.aborted) reply.header("connection", "close");
    done(null, payload);
  });

  const context: RouteContext = {
    store,
    sessions,
    timeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    secureCookies: security.secureCookies,
    dashboardUrl: options.dashboardUrl,
    closing: closing.signal,
  };
  registerShopRoutes(app, context);
  registerAccountRoutes(app, context);
  registerOrderRoutes(app, context);
  registerAdminRoutes(app, context);

  const asset = (path: string, etag: string, type: string, body: string) =>
    app.get(path, async (request, reply) => {
      reply.header("cache-control", "public, max-age=31536000, immutable").header("etag", etag);
      if (request.headers["if-none-match"] === etag) return reply.code(304).send();
      return reply.type(type).send(body);
    });
  asset(STYLESHEET_PATH, STYLESHEET_ETAG, "text/css; charset=utf-8", STYLESHEET);
  asset(SCRIPT_PATH, SCRIPT_ETAG, "text/javascript; charset=utf-8", SCRIPT);

  // Liveness: the process is up and the event loop turns; never a downstream check.
  app.get("/healthz", async () => ({ status: "ok" }));
  // Readiness: ready whenever this process can serve pages, even while a store service is down,
  // because pages degrade per section. During shutdown fastify answers 503 on its own.
  app.get("/readyz", async () => ({ status: "ready", services: store.targets }));

  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, 404, "Page not found", "There is no page at this address. The bookshop starts at /."),
  );

  return app;
}

/** An error page that needs nothing from the request (the error handler's, which may run before the hooks). */
function renderBareError(heading: string, message: string): string {
  return eta.render("./error", {
    heading,
    message,
    title: heading,
    shopper: undefined,
    csrfToken: "",
    query: "",
    assets: { css: STYLESHEET_PATH, js: SCRIPT_PATH },
  });
}

/** The app {@link createMarketplace} returns. */
export type Marketplace = Awaited<ReturnType<typeof createMarketplace>>;
