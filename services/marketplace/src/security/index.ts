import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import fastifyCookie from "@fastify/cookie";
import fastifyCsrfProtection from "@fastify/csrf-protection";
import fastifyRateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest } from "fastify";
import helmet, { type HelmetOptions } from "helmet";
import { createCachedCookieSigner } from "./cached-cookie-signer.js";

export { escapeAttr, escapeHtml, safeUrl } from "./escape.js";

/** Settings of {@link registerSecurity}, each from the environment variable named on it. */
export interface SecurityConfig {
  /** `RATE_LIMIT_MAX`: requests per client per window (default 100). */
  readonly rateLimitMax: number;
  /** `RATE_LIMIT_WINDOW`: the window, in ms or as `1 minute`, `30 seconds`… (default `1 minute`). */
  readonly rateLimitWindow: string | number;
  /** Paths never rate limited (probes and scrapers): default `/healthz`, `/readyz`, `/metrics`. */
  readonly rateLimitExemptPaths: readonly string[];
  /**
   * `COOKIE_SECRET`: signs the CSRF cookie. Required when `NODE_ENV=production` (and must be the
   * same on every replica); in development a random one is made per process.
   */
  readonly cookieSecret: string;
  /** `COOKIE_SECURE`: send cookies only over HTTPS (default on in production). */
  readonly secureCookies: boolean;
  /**
   * `TRUST_PROXY`: which proxies may set `X-Forwarded-For`, so rate limiting sees the shopper's
   * address instead of the ingress controller's: `false` (default), `true`, a hop count, or a
   * comma-separated list of addresses/CIDRs (fastify's `trustProxy`).
   */
  readonly trustProxy: boolean | string[] | ((address: string, hop: number) => boolean);
}

/** Thrown for a bad security setting; the message names the variable. */
export class SecurityConfigError extends Error {
  override readonly name = "SecurityConfigError";
}

const WINDOW = /^\d+\s*(ms|millisecond|second|minute|hour|day)s?$/i;

/** Reads {@link SecurityConfig} from the environment, with clear errors. */
export function readSecurityConfig(env: NodeJS.ProcessEnv = process.env): SecurityConfig {
  const production = env.NODE_ENV === "production";
  const maxText = env.RATE_LIMIT_MAX?.trim() || "100";
  const rateLimitMax = /^\d+$/.test(maxText) ? Number(maxText) : Number.NaN;
  if (!Number.isSafeInteger(rateLimitMax) || rateLimitMax < 1) {
    throw new SecurityConfigError(
      `RATE_LIMIT_MAX must be a positive integer, got ${JSON.stringify(env.RATE_LIMIT_MAX)}`,
    );
  }
  const windowText = env.RATE_LIMIT_WINDOW?.trim() || "1 minute";
  if (!/^\d+$/.test(windowText) && !WINDOW.test(windowText)) {
    throw new SecurityConfigError(
      `RATE_LIMIT_WINDOW must be milliseconds or like "1 minute", "30 seconds", got ${JSON.stringify(env.RATE_LIMIT_WINDOW)}`,
    );
  }
  const rateLimitWindow = /^\d+$/.test(windowText) ? Number(windowText) : windowText;
  let cookieSecret = env.COOKIE_SECRET?.trim() ?? "";
  if (cookieSecret === "") {
    if (production)
      throw new SecurityConfigError("COOKIE_SECRET must be set in production (the same value on every replica)");
    cookieSecret = randomBytes(32).toString("base64url");
  } else if (cookieSecret.length < 32) {
    throw new SecurityConfigError("COOKIE_SECRET must be at least 32 characters");
  }
  const secureText = env.COOKIE_SECURE?.trim().toLowerCase();
  if (secureText !== undefined && secureText !== "" && !["true", "false", "1", "0"].includes(secureText)) {
    throw new SecurityConfigError(`COOKIE_SECURE must be true or false, got ${JSON.stringify(env.COOKIE_SECURE)}`);
  }
  const secureCookies = secureText ? secureText === "true" || secureText === "1" : production;
  return {
    trustProxy: readTrustProxy(env.TRUST_PROXY),
    rateLimitMax,
    rateLimitWindow,
    rateLimitExemptPaths: ["/healthz", "/readyz", "/metrics"],
    cookieSecret,
    secureCookies,
  };
}

function readTrustProxy(raw: string | undefined): SecurityConfig["trustProxy"] {
  const text = raw?.trim() ?? "";
  if (text === "" || text === "false" || text === "0") return false;
  if (text === "true") return true;
  if (/^\d+$/.test(text)) {
    // Trust that many proxy hops in front of us (proxy-addr's trust function).
    const hops = Number(text);
    return (_address, hop) => hop < hops;
  }
  const entries = text.split(",").map((e) => e.trim());
  if (entries.some((e) => !/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(e))) {
    throw new SecurityConfigError(
      `TRUST_PROXY must be true, false, a hop count, or comma-separated addresses/CIDRs, got ${JSON.stringify(raw)}`,
    );
  }
  return entries;
}

/** The name of the cookie holding the CSRF secret: `__Host-` pins it to this host, HTTPS, path `/`. */
export function csrfCookieName(config: Pick<SecurityConfig, "secureCookies">): string {
  return config.secureCookies ? "__Host-csrf" : "_csrf";
}

/** The Content-Security-Policy directives: nothing inline, nothing from elsewhere, no framing. */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  // Off: on plain-HTTP development servers it would send the form to https:// and break it.
  upgradeInsecureRequests: null,
} as const;

/** What helmet is asked for: the CSP above, no framing, a strict referrer policy, its other defaults. */
const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
  frameguard: { action: "deny" },
  referrerPolicy: { policy: "strict-origin-when-cross-origin" },
};

/**
 * The security headers helmet sets for {@link HELMET_OPTIONS}, computed once. Our policy is the
 * same for every response (no per-request CSP nonces: the pages have no inline script or style),
 * so running helmet per request, as @fastify/helmet does (it rebuilds the middleware and parses
 * the CSP directives on every request, in two async hooks), only costs CPU on the hot path.
 */
export function securityHeaders(): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value);
    },
    removeHeader() {},
  };
  helmet(HELMET_OPTIONS)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return Object.freeze(headers);
}

function pathOf(request: FastifyRequest): string {
  const url = request.url;
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

/**
 * Hardens the Marketplace. AWAIT it right after creating the fastify instance and BEFORE
 * declaring routes (rate limiting attaches to routes as they are added):
 * - security headers (helmet's, computed once by {@link securityHeaders}, set on every response
 *   including errors): a CSP with no inline script or style and
 *   `frame-ancestors 'none'`, `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
 *   `Referrer-Policy: strict-origin-when-cross-origin`, HSTS, no `X-Powered-By`;
 * - per-client rate limiting (@fastify/rate-limit, keyed by `request.ip`: set fastify's
 *   `trustProxy` behind a load balancer) answering 429 "Too many requests…"; probe and metrics
 *   paths are exempt;
 * - cookies (@fastify/cookie, signed with `COOKIE_SECRET`) and CSRF tokens
 *   (@fastify/csrf-protection): `reply.generateCsrf()` makes a token for a form, and
 *   `app.csrfProtection` as a `preHandler` checks it (403 when missing or wrong).
 */
export async function registerSecurity(app: FastifyInstance, config: SecurityConfig): Promise<void> {
  const headers = securityHeaders();
  // onRequest, like @fastify/helmet, so 404s, 429s and errors carry them too. A sync hook: no
  // promise per request.
  app.addHook("onRequest", (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
  const exempt = new Set(config.rateLimitExemptPaths);
  const windowText =
    typeof config.rateLimitWindow === "number" ? `${config.rateLimitWindow} ms` : config.rateLimitWindow;
  await app.register(fastifyRateLimit, {
    global: true,
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindow,
    allowList: (request) => exempt.has(pathOf(request)),
    errorResponseBuilder: (_request, context) => ({
      statusCode: context.statusCode,
      error: "Too Many Requests",
      message: `Too many requests: the limit is ${context.max} per ${windowText}. Try again in ${context.after}.`,
    }),
  });
  // Signed with COOKIE_SECRET as @fastify/cookie does, remembering valid cookies: the homepage
  // checks the shopper's CSRF secret cookie on every view.
  await app.register(fastifyCookie, { secret: createCachedCookieSigner(config.cookieSecret) });
  await app.register(fastifyCsrfProtection, {
    sessionPlugin: "@fastify/cookie",
    cookieKey: csrfCookieName(config),
    cookieOpts: { path: "/", httpOnly: true, sameSite: "strict", secure: config.secureCookies, signed: true },
  });
}
