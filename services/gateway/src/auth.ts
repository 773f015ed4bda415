// Who may call what: the bearer token (Accounts' ES256 JWTs, verified against its JWKS) checked
// against the method's rule in its proto, `option (bookstore.auth.v1.auth)`, before any call
// leaves the gateway. The token then travels on to the service, which checks it again and makes
// the owner checks (your cart, your orders).
import { ADMIN_REQUIRED_MESSAGE, readJwtAuthConfig, UNAUTHENTICATED_MESSAGE } from "@obfy/kit/security";
import type { JSONWebKeySet, JWTVerifyGetKey } from "jose";
import type { Route } from "./descriptors.js";
import { GatewayError } from "./errors.js";

/** The caller, from a verified token. */
export interface GatewayPrincipal {
  /** `sub`: the account id (shoppers, admins) or the client id (third parties). */
  readonly subject: string;
  readonly role: "shopper" | "admin" | "client";
  readonly scopes: ReadonlySet<string>;
}

/** Verifies bearer tokens and applies the protos' rules. */
export interface Authenticator {
  /** The principal of an `Authorization: Bearer` header; `undefined` without one; 401 for a bad one. */
  verify(header: string | undefined): Promise<GatewayPrincipal | undefined>;
  /** Throws 401/403 unless `principal` may call `route`. */
  authorize(route: Route, principal: GatewayPrincipal | undefined): void;
}

const ROLES = new Set(["shopper", "admin", "client"]);

function unauthenticated(): GatewayError {
  return new GatewayError(401, UNAUTHENTICATED_MESSAGE, undefined, { "www-authenticate": 'Bearer realm="obfy"' });
}

/**
 * Reads `AUTH_JWKS_URL` or `AUTH_JWKS`, `AUTH_ISSUER` and `AUTH_AUDIENCE` as every service does
 * (`readJwtAuthConfig`). Without a key source no token verifies: only anonymous methods work.
 */
export async function createAuthenticator(env: NodeJS.ProcessEnv): Promise<Authenticator> {
  const config = readJwtAuthConfig(env);
  const jose = await import("jose");
  const keys: JWTVerifyGetKey | undefined =
    config === undefined
      ? undefined
      : config.jwksUrl !== undefined
        ? jose.createRemoteJWKSet(new URL(String(config.jwksUrl)), { cacheMaxAge: 10 * 60_000, timeoutDuration: 5000 })
        : jose.createLocalJWKSet(config.jwks as JSONWebKeySet);

  return {
    async verify(header) {
      if (header === undefined || header === "") return undefined;
      const match = /^Bearer ([A-Za-z0-9_.~+/=-]+)$/i.exec(header.trim());
      if (!match?.[1] || keys === undefined || config === undefined) throw unauthenticated();
      try {
        const { payload } = await jose.jwtVerify(match[1], keys, {
          algorithms: ["ES256", "RS256"],
          issuer: config.issuer,
          audience: config.audience,
          requiredClaims: ["exp", "sub"],
          clockTolerance: 30,
        });
        const role = typeof payload.role === "string" && ROLES.has(payload.role) ? payload.role : "client";
        const scope = typeof payload.scope === "string" ? payload.scope.split(" ").filter((s) => s !== "") : [];
        return { subject: String(payload.sub), role: role as GatewayPrincipal["role"], scopes: new Set(scope) };
      } catch {
        throw unauthenticated();
      }
    },

    authorize(route, principal) {
      const rule = route.rule;
      if (principal === undefined) {
        if (rule?.anonymous === true) return;
        throw unauthenticated();
      }
      if (rule?.admin === true && principal.role !== "admin") throw new GatewayError(403, ADMIN_REQUIRED_MESSAGE);
      if (principal.role === "admin") return;
      const missing = (rule?.scopes ?? []).filter((s) => !principal.scopes.has(s));
      if (missing.length > 0) {
        throw new GatewayError(
          403,
          `Token lacks the scope${missing.length > 1 ? "s" : ""} ${missing.map((s) => `"${s}"`).join(", ")} required for ${route.grpcPath}`,
          undefined,
          { "www-authenticate": `Bearer realm="obfy", error="insufficient_scope", scope="${missing.join(" ")}"` },
        );
      }
    },
  };
}
