// What every route module shares: its context, the request's shopper and the page helpers. Kept
// apart from app.ts, which registers the routes, so that no module imports the one importing it.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { SessionCookies, Shopper } from "./session.js";
import type { Store } from "./store.js";
import { type PageContext, sendPage } from "./views.js";

/** What every route module gets. */
export interface RouteContext {
  readonly store: Store;
  readonly sessions: SessionCookies;
  /** Deadline of a page's reads. */
  readonly timeoutMs: number;
  readonly secureCookies: boolean;
  readonly dashboardUrl: string | undefined;
  /** Long-lived responses (server-sent events) end on this when the app closes. */
  readonly closing: AbortSignal;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The signed-in shopper, resolved before page handlers run. */
    shopper: Shopper | undefined;
    /** Accounts could not be asked who the session belongs to: the page is served signed out. */
    accountsUnavailable: boolean;
  }
}

/** The page context of a request: its shopper and a CSRF token for the page's forms. */
export function pageContext(request: FastifyRequest, reply: FastifyReply, query?: string): PageContext {
  return {
    shopper: request.shopper,
    csrfToken: reply.generateCsrf(),
    ...(query === undefined ? {} : { query }),
  };
}

/** Sends the error page. */
export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  heading: string,
  message: string,
): FastifyReply {
  return sendPage(reply, "./error", heading, pageContext(request, reply), { heading, message }, status);
}
