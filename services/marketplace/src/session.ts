import { createHash } from "node:crypto";
import { ClientError } from "@obfy/kit/client";
import { accountsV1 } from "@obfy/protos";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Store } from "./store.js";

/** The shopper a page is for, known from the session cookie. */
export interface Shopper {
  readonly accountId: string;
  readonly email: string;
  readonly role: "shopper" | "admin";
  /** A current access token from Accounts, sent on every call made for the shopper. */
  readonly token: string;
}

/** The session token Accounts gave at sign-in (httpOnly, signed). */
export const SESSION_COOKIE = "obfy_session";
/** The current access token beside it, with who it is for (httpOnly, signed, so it cannot be forged). */
export const ACCESS_COOKIE = "obfy_access";
/** The anonymous cart's id (a UUID), until sign-in merges it into the shopper's cart. */
export const CART_COOKIE = "obfy_cart";

/** Renew the access token when it has less than this left. */
const REFRESH_MARGIN_MS = 30_000;
const SESSION_MAX_AGE_S = 30 * 24 * 3600;

interface AccessCookie {
  /** The JWT. */
  t: string;
  /** Expiry, ms since the epoch. */
  x: number;
  a: string;
  e: string;
  r: "shopper" | "admin";
  /** A hash of the session token it belongs to, so a stale access cookie never outlives a new session. */
  s: string;
}

/** Cookie attributes for {@link SessionCookies}. */
export interface SessionCookieOptions {
  readonly secure: boolean;
}

function sessionTag(sessionToken: string): string {
  return createHash("sha256").update(sessionToken).digest("base64url").slice(0, 16);
}

function readSigned(request: FastifyRequest, name: string): string | undefined {
  const raw = request.cookies[name];
  if (raw === undefined || raw === "") return undefined;
  const unsigned = request.unsignCookie(raw);
  return unsigned.valid && unsigned.value !== null ? unsigned.value : undefined;
}

function roleOf(role: accountsV1.Role): "shopper" | "admin" {
  return role === accountsV1.Role.ROLE_ADMIN ? "admin" : "shopper";
}

function expiryOf(token: accountsV1.AccessToken | undefined): number {
  const seconds = token?.expireTime?.seconds;
  return seconds === undefined ? Date.now() + 60_000 : seconds * 1000;
}

/** Reads, renews and writes the session cookies. */
export class SessionCookies {
  readonly #store: Store;
  readonly #secure: boolean;
  readonly #timeoutMs: number;

  constructor(store: Store, options: SessionCookieOptions & { readonly timeoutMs: number }) {
    this.#store = store;
    this.#secure = options.secure;
    this.#timeoutMs = options.timeoutMs;
  }

  #cookieOptions(maxAge: number) {
    return { path: "/", httpOnly: true, sameSite: "lax" as const, secure: this.#secure, signed: true, maxAge };
  }

  /** After sign-up or sign-in: keeps the session and its first access token. */
  signIn(reply: FastifyReply, signedIn: accountsV1.SignedIn): Shopper {
    const account = signedIn.account;
    const token = signedIn.accessToken?.token ?? "";
    reply.setCookie(SESSION_COOKIE, signedIn.sessionToken, this.#cookieOptions(SESSION_MAX_AGE_S));
    const shopper: Shopper = {
      accountId: account?.accountId ?? "",
      email: account?.email ?? "",
      role: roleOf(account?.role ?? accountsV1.Role.ROLE_SHOPPER),
      token,
    };
    this.#writeAccess(reply, signedIn.sessionToken, shopper, expiryOf(signedIn.accessToken));
    return shopper;
  }

  #writeAccess(reply: FastifyReply, sessionToken: string, shopper: Shopper, expiresAt: number): void {
    const value: AccessCookie = {
      t: shopper.token,
      x: expiresAt,
      a: shopper.accountId,
      e: shopper.email,
      r: shopper.role,
      s: sessionTag(sessionToken),
    };
    reply.setCookie(ACCESS_COOKIE, JSON.stringify(value), this.#cookieOptions(SESSION_MAX_AGE_S));
  }

  /** Forgets the session in this browser. */
  clear(reply: FastifyReply): void {
    reply.clearCookie(SESSION_COOKIE, { path: "/" });
    reply.clearCookie(ACCESS_COOKIE, { path: "/" });
  }

  /** The session token, when the browser sent a valid one. */
  sessionToken(request: FastifyRequest): string | undefined {
    return readSigned(request, SESSION_COOKIE);
  }

  /**
   * The signed-in shopper, renewing the access token from Accounts when it is about to expire.
   * An ended session clears the cookies; Accounts being unreachable makes the page anonymous
   * (`unavailable`), not an error.
   */
  async shopper(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ shopper: Shopper | undefined; unavailable: boolean }> {
    const sessionToken = this.sessionToken(request);
    if (sessionToken === undefined) return { shopper: undefined, unavailable: false };
    const raw = readSigned(request, ACCESS_COOKIE);
    if (raw !== undefined) {
      try {
        const access = JSON.parse(raw) as AccessCookie;
        if (access.s === sessionTag(sessionToken) && access.x - Date.now() > REFRESH_MARGIN_MS) {
          return {
            shopper: {
              accountId: access.a,
              email: access.e,
              role: access.r === "admin" ? "admin" : "shopper",
              token: access.t,
            },
            unavailable: false,
          };
        }
      } catch {
        // A cookie we did not write: renew below.
      }
    }
    try {
      const refreshed = await this.#store.accounts.refreshAccessToken(
        accountsV1.RefreshAccessTokenRequest.fromPartial({ sessionToken }),
        { timeoutMs: this.#timeoutMs },
      );
      const shopper: Shopper = {
        accountId: refreshed.account?.accountId ?? "",
        email: refreshed.account?.email ?? "",
        role: roleOf(refreshed.account?.role ?? accountsV1.Role.ROLE_SHOPPER),
        token: refreshed.accessToken?.token ?? "",
      };
      this.#writeAccess(reply, sessionToken, shopper, expiryOf(refreshed.accessToken));
      return { shopper, unavailable: false };
    } catch (error) {
      if (error instanceof ClientError && error.codeName === "UNAUTHENTICATED") {
        this.clear(reply);
        return { shopper: undefined, unavailable: false };
      }
      request.log.warn({ err: error }, "accounts unavailable; serving the page signed out");
      return { shopper: undefined, unavailable: true };
    }
  }
}

/** `authorization` metadata for a call made for the shopper (none for visitors). */
export function asShopper(shopper: Shopper | undefined): Record<string, string> {
  return shopper === undefined || shopper.token === "" ? {} : { authorization: `Bearer ${shopper.token}` };
}
