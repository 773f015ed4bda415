import { STATUS_CODES } from "node:http";
import { ClientError } from "@obfy/kit";
import fastify, { LogController } from "fastify";
import type { Logger } from "pino";
import { CATEGORY_SLUGS, DEFAULT_CATEGORY, isCategorySlug } from "./categories.js";
import { type HomepageContent, renderErrorPage, renderHomepage } from "./homepage.js";
import type { Recommendations } from "./recommendations.js";

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
 * Builds the Marketplace web app without listening: `GET /` (the homepage, `?category=` picks the
 * category), `GET /healthz` and `GET /readyz`. Call `listen()` on the result, or `inject()` in tests.
 *
 * When Recommendations is down or slow the homepage still answers 200, with a notice in place of
 * the books: the rest of the page does not depend on it. The deadline that bounds the wait lives
 * in the {@link Recommendations} implementation.
 */
export function createMarketplace(options: MarketplaceOptions) {
  const { recommendations } = options;
  const booksPerPage = options.booksPerPage ?? BOOKS_PER_PAGE;
  const app = fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: options.logRequests !== true }),
    // Let fastify.close() end idle keep-alive sockets so shutdown does not wait for browsers to hang up.
    forceCloseConnections: "idle",
  });

  // On close, fastify stops accepting and ends idle keep-alive connections, but a connection that
  // is busy with an in-flight request would then stay open until its keep-alive timeout (72 s in
  // fastify) and hold the shutdown up. Answering such requests with `Connection: close` ends
  // their connection right after the response.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onSend", async (_request, reply, payload) => {
    if (closing) reply.header("connection", "close");
    return payload;
  });

  app.get<{ Querystring: HomepageQuery }>("/", async (request, reply) => {
    reply.type(HTML).header("cache-control", "no-store");
    const category = request.query.category ?? DEFAULT_CATEGORY;
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
    return reply.send(renderHomepage(category, content));
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

  // Errors never show a stack trace or internal message; server errors are logged with their cause.
  app.setErrorHandler((error, request, reply) => {
    const statusCode =
      typeof error === "object" && error !== null && "statusCode" in error && typeof error.statusCode === "number"
        ? error.statusCode
        : 500;
    const code = statusCode >= 400 && statusCode < 600 ? statusCode : 500;
    if (code >= 500) request.log.error({ err: error }, "request failed");
    const message =
      code >= 500 ? "Something went wrong on our side. Please try again." : (STATUS_CODES[code] ?? "Bad request");
    reply
      .code(code)
      .type(HTML)
      .send(renderErrorPage(code >= 500 ? "Something went wrong" : "Bad request", message));
  });

  return app;
}

/** The app {@link createMarketplace} returns. */
export type Marketplace = ReturnType<typeof createMarketplace>;
