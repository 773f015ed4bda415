import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey } from "jose";
import { createContextKey } from "../context.js";
import { PermissionDenied, Unauthenticated } from "../errors.js";
import type { ServerInterceptor } from "../interceptor.js";
import { certificateIdentity, peerIdentityKey } from "./peer-identity.js";

/** Algorithms we accept. Never `none`, never HMAC (a shared secret would let every verifier mint tokens). */
export const JWT_ALGORITHMS = ["RS256", "ES256"] as const;

/** Header parameters that point at or carry a key. A verifier that trusted them would let the sender pick the key. */
const KEY_HEADERS = ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"] as const;

/** The message every authentication failure gets: the reason goes to the log, not to a possible attacker. */
export const UNAUTHENTICATED_MESSAGE = "A valid bearer token is required";
/** The message for a token arriving on a plaintext connection. */
export const TOKEN_REQUIRES_TLS_MESSAGE = "bearer tokens require TLS";

/**
 * Scopes required per method: keys are `/pkg.Service/Method`, `/pkg.Service/*` or `*` (the most
 * specific key that matches wins); values are scopes the token must all carry. Methods matching
 * no key need a valid token and no particular scope.
 */
export type RequiredScopes = Readonly<Record<string, readonly string[]>>;

/** Options for {@link createJwtAuthInterceptor}. */
export interface JwtAuthOptions {
  /** The identity provider's JWKS endpoint; keys are fetched on demand and cached. */
  readonly jwksUrl?: string | URL;
  /** A local key set instead of `jwksUrl` (tests, air-gapped setups). */
  readonly jwks?: JSONWebKeySet;
  /** Expected `iss`. */
  readonly issuer: string;
  /** Expected `aud` (one of, when the token has several). */
  readonly audience: string;
  readonly requiredScopes?: RequiredScopes;
  /** Seconds of clock skew tolerated on `exp`/`nbf` (default 30). */
  readonly clockToleranceSeconds?: number;
}

/** What a verified token says about the caller; on the context under {@link jwtPrincipalKey}. */
export interface JwtPrincipal {
  /** `sub`, else `client_id`/`azp` (client-credentials tokens). */
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  readonly claims: JWTPayload;
}

/** The verified token's principal; `undefined` when the call carried no token. */
export const jwtPrincipalKey = createContextKey<JwtPrincipal | undefined>(undefined, "jwt principal");

/** Scopes from `scope` (space-separated, RFC 8693/9068) and `scp` (array or string, some IdPs). */
function scopesOf(claims: JWTPayload): Set<string> {
  const scopes = new Set<string>();
  for (const value of [claims.scope, claims.scp]) {
    const list = typeof value === "string" ? value.split(" ") : Array.isArray(value) ? value : [];
    for (const scope of list) if (typeof scope === "string" && scope !== "") scopes.add(scope);
  }
  return scopes;
}

/** The scopes `path` needs under `required` (most specific key first). */
function scopesFor(required: RequiredScopes, path: string): readonly string[] {
  const service = path.split("/")[1] ?? "";
  return required[path] ?? required[`/${service}/*`] ?? required["*"] ?? [];
}

/** Thrown for an unusable JWT configuration. */
export class JwtConfigError extends Error {
  override readonly name = "JwtConfigError";
}

/**
 * Reads `AUTH_JWKS_URL`, `AUTH_ISSUER`, `AUTH_AUDIENCE` and `AUTH_REQUIRED_SCOPES` (JSON
 * {@link RequiredScopes}); `undefined` when `AUTH_JWKS_URL` is unset (token auth off).
 */
export function readJwtAuthConfig(env: NodeJS.ProcessEnv = process.env): JwtAuthOptions | undefined {
  const jwksUrl = env.AUTH_JWKS_URL?.trim();
  if (!jwksUrl) return undefined;
  let url: URL;
  try {
    url = new URL(jwksUrl);
  } catch {
    throw new JwtConfigError(`AUTH_JWKS_URL must be a URL, got ${JSON.stringify(jwksUrl)}`);
  }
  const issuer = env.AUTH_ISSUER?.trim();
  const audience = env.AUTH_AUDIENCE?.trim();
  if (!issuer) throw new JwtConfigError("AUTH_JWKS_URL is set, so AUTH_ISSUER must be set too (the token issuer)");
  if (!audience)
    throw new JwtConfigError("AUTH_JWKS_URL is set, so AUTH_AUDIENCE must be set too (this API's audience)");
  let requiredScopes: RequiredScopes = {};
  const rawScopes = env.AUTH_REQUIRED_SCOPES?.trim();
  if (rawScopes) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawScopes);
    } catch (error) {
      throw new JwtConfigError(`AUTH_REQUIRED_SCOPES is not valid JSON: ${(error as Error).message}`);
    }
    const valid =
      typeof parsed === "object" &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      Object.values(parsed).every((v) => Array.isArray(v) && v.every((s) => typeof s === "string"));
    if (!valid) {
      throw new JwtConfigError(
        'AUTH_REQUIRED_SCOPES must map methods to scope lists, e.g. {"/pkg.Service/*": ["read"]}',
      );
    }
    requiredScopes = parsed as RequiredScopes;
  }
  return { jwksUrl: url, issuer, audience, requiredScopes };
}

class TokenRejected extends Error {
  override readonly name = "TokenRejected";
}

/**
 * A kit interceptor that authenticates callers by an OAuth2 access token (`authorization:
 * Bearer <jwt>`), verified against the identity provider's JWKS: RS256 or ES256 only, `exp`
 * required, `iss` and `aud` checked, tokens whose header carries or points at a key (jwk, jku,
 * x5u, x5c) refused. Outcomes:
 * - no token, bad token → UNAUTHENTICATED "A valid bearer token is required" (reason logged);
 * - a token on a plaintext connection → UNAUTHENTICATED "bearer tokens require TLS" (it may
 *   already have been read on the wire; the caller should treat it as leaked);
 * - a missing scope → PERMISSION_DENIED naming the scope.
 * Health checks need no token. On success the principal is on the context
 * ({@link jwtPrincipalKey}) and, unless the connection has a verified client certificate (whose
 * identity wins), {@link peerIdentityKey} gets `{ name: subject, source: "jwt" }`.
 */
export function createJwtAuthInterceptor(options: JwtAuthOptions): ServerInterceptor {
  if ((options.jwksUrl === undefined) === (options.jwks === undefined)) {
    throw new JwtConfigError("Give exactly one of jwksUrl and jwks");
  }
  const source = options.jwks ?? new URL(String(options.jwksUrl));
  // jose (~9 MB) is loaded only by services that verify tokens, starting now so the first call
  // does not wait for it; a failed load fails each verification (UNAUTHENTICATED, reason logged).
  const verifier = import("jose").then((jose) => {
    const keys: JWTVerifyGetKey =
      source instanceof URL
        ? jose.createRemoteJWKSet(source, {
            cacheMaxAge: 10 * 60_000,
            cooldownDuration: 30_000,
            timeoutDuration: 5_000,
          })
        : jose.createLocalJWKSet(source);
    return { jose, keys };
  });
  verifier.catch(() => {});
  const required = options.requiredScopes ?? {};
  const clockTolerance = options.clockToleranceSeconds ?? 30;

  const verify = async (token: string): Promise<JwtPrincipal> => {
    const { jose, keys } = await verifier;
    let header: ReturnType<typeof jose.decodeProtectedHeader>;
    try {
      header = jose.decodeProtectedHeader(token);
    } catch {
      throw new TokenRejected("token is not a JWS compact serialization");
    }
    const keyHeader = KEY_HEADERS.find((name) => name in header);
    if (keyHeader) throw new TokenRejected(`token header carries a key reference (${keyHeader}), never trusted`);
    if (typeof header.alg !== "string" || !(JWT_ALGORITHMS as readonly string[]).includes(header.alg)) {
      throw new TokenRejected(`token algorithm ${JSON.stringify(header.alg)} is not allowed`);
    }
    try {
      const { payload } = await jose.jwtVerify(token, keys, {
        algorithms: [...JWT_ALGORITHMS],
        issuer: options.issuer,
        audience: options.audience,
        requiredClaims: ["exp"],
        clockTolerance,
      });
      const subject = [payload.sub, payload.client_id, payload.azp].find((v): v is string => typeof v === "string");
      if (!subject) throw new TokenRejected("token has no sub, client_id or azp claim");
      return { subject, scopes: scopesOf(payload), claims: payload };
    } catch (error) {
      if (error instanceof TokenRejected) throw error;
      const code = (error as { code?: unknown }).code;
      throw new TokenRejected(`${typeof code === "string" ? code : "ERR"}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };

  return (next) => async (call) => {
    const context = call.context;
    if (call.method.service === "grpc.health.v1.Health") return next(call);
    const values = context.metadata.get("authorization");
    const header = values.length === 1 && typeof values[0] === "string" ? values[0] : undefined;
    const match = header === undefined ? null : /^Bearer ([A-Za-z0-9_.~+/=-]+)$/i.exec(header.trim());
    if (header !== undefined && context.raw.getAuthContext().transportSecurityType !== "ssl") {
      context.log.warn({ peer: context.peer }, "bearer token refused: it arrived over a plaintext connection");
      throw new Unauthenticated(TOKEN_REQUIRES_TLS_MESSAGE);
    }
    if (!match?.[1]) {
      const reason = values.length > 1 ? "several authorization headers" : header ? "not a Bearer token" : "no token";
      context.log.warn({ reason }, "call refused: authentication failed");
      throw new Unauthenticated(UNAUTHENTICATED_MESSAGE);
    }
    let principal: JwtPrincipal;
    try {
      principal = await verify(match[1]);
    } catch (error) {
      context.log.warn({ reason: (error as Error).message }, "call refused: bearer token rejected");
      throw new Unauthenticated(UNAUTHENTICATED_MESSAGE);
    }
    const missing = scopesFor(required, call.method.path).filter((scope) => !principal.scopes.has(scope));
    if (missing.length > 0) {
      context.log.warn({ subject: principal.subject, missing }, "call refused: missing scope");
      throw new PermissionDenied(
        `Token lacks the scope${missing.length > 1 ? "s" : ""} ${missing.map((s) => `"${s}"`).join(", ")} required for ${call.method.path}`,
      );
    }
    context.set(jwtPrincipalKey, principal);
    // A verified client certificate says more about the workload than a token it carries.
    if (context.get(peerIdentityKey) === undefined && certificateIdentity(context.raw) === undefined) {
      context.set(peerIdentityKey, { name: principal.subject, source: "jwt" });
    }
    return next(call);
  };
}
