import { isIP } from "node:net";
import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey } from "jose";
import { type CallContext, createContextKey } from "../context.js";
import { PermissionDenied, Unauthenticated } from "../errors.js";
import type { ServerInterceptor } from "../interceptor.js";
import type { MethodRules } from "./method-rules.js";
import { certificateIdentity, peerIdentityKey } from "./peer-identity.js";

/** Algorithms we accept. Never `none`, never HMAC (a shared secret would let every verifier mint tokens). */
export const JWT_ALGORITHMS = ["RS256", "ES256"] as const;

/** Header parameters that point at or carry a key. A verifier that trusted them would let the sender pick the key. */
const KEY_HEADERS = ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"] as const;

/** The message every authentication failure gets: the reason goes to the log, not to a possible attacker. */
export const UNAUTHENTICATED_MESSAGE = "A valid bearer token is required";
/** The message for a token arriving on a plaintext connection the policy does not trust. */
export const TOKEN_REQUIRES_TLS_MESSAGE = "bearer tokens require TLS";
/** The message of a method only admins may call. */
export const ADMIN_REQUIRED_MESSAGE = "This needs an admin account";

/**
 * Where a bearer token may arrive over plaintext (`AUTH_PLAINTEXT_TOKENS`):
 * - `deny`: never; tokens need TLS;
 * - `loopback`: only from a loopback peer (127.0.0.0/8, ::1), where nothing crosses a network:
 *   one machine running the store with `npm start`;
 * - `allow`: from anywhere, for networks that encrypt below gRPC (a service mesh's mTLS).
 */
export type PlaintextTokenPolicy = "deny" | "loopback" | "allow";

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
  /** Extra scopes an operator requires per method (`AUTH_REQUIRED_SCOPES`), on top of the protos' rules. */
  readonly requiredScopes?: RequiredScopes;
  /** Seconds of clock skew tolerated on `exp`/`nbf` (default 30). */
  readonly clockToleranceSeconds?: number;
  /**
   * Each method's rule from its proto (`readMethodRules()`). A method with no rule needs a valid
   * token with no particular scope, unless it is in `anonymousMethods`.
   */
  readonly rules?: MethodRules;
  /** Paths of methods without a proto rule that anyone may call (e.g. the tutorial's unversioned API). */
  readonly anonymousMethods?: readonly string[];
  /** Default `deny`. */
  readonly plaintextTokens?: PlaintextTokenPolicy;
  /**
   * Methods without a proto rule: `token` (default) needs a valid token; `open` lets them through,
   * for a server with no key source configured (token authentication off, as before rules).
   */
  readonly unannotated?: "token" | "open";
}

/** The roles of the store's tokens (see protos/bookstore/auth/v1/auth.proto). */
export type PrincipalRole = "shopper" | "admin" | "client";

/** What a verified token says about the caller; on the context under {@link jwtPrincipalKey}. */
export interface JwtPrincipal {
  /** `sub`, else `client_id`/`azp` (client-credentials tokens): the account id or the client id. */
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  /** The `role` claim; a token without a known one is a `client` (the least privilege). */
  readonly role: PrincipalRole;
  /** The `email` claim of account tokens. */
  readonly email: string | undefined;
  readonly claims: JWTPayload;
}

/** Who is calling, from a verified bearer token: the store's name for {@link JwtPrincipal}. */
export type Principal = JwtPrincipal;

/** The verified token's principal; `undefined` when the call carried no token. */
export const jwtPrincipalKey = createContextKey<JwtPrincipal | undefined>(undefined, "jwt principal");

/** The caller, when the call carried a valid token. Services make their owner checks on `subject` and `role`. */
export function principalOf(context: Pick<CallContext, "get">): Principal | undefined {
  return context.get(jwtPrincipalKey);
}

/** The caller, or UNAUTHENTICATED when the call carried no token. */
export function requirePrincipal(context: Pick<CallContext, "get">): Principal {
  const principal = principalOf(context);
  if (principal === undefined) throw new Unauthenticated(UNAUTHENTICATED_MESSAGE);
  return principal;
}

const ROLES = new Set<PrincipalRole>(["shopper", "admin", "client"]);

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
 * Reads the token settings: `AUTH_JWKS_URL` (the issuer's JWKS) or `AUTH_JWKS` (a JWKS as JSON,
 * for tests and air-gapped setups), `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_PLAINTEXT_TOKENS`
 * ({@link PlaintextTokenPolicy}, default `loopback`) and `AUTH_REQUIRED_SCOPES` (JSON
 * {@link RequiredScopes}); `undefined` when neither key source is set (then no token can be
 * verified, and methods that need one answer UNAUTHENTICATED).
 */
export function readJwtAuthConfig(env: NodeJS.ProcessEnv = process.env): JwtAuthOptions | undefined {
  const jwksUrl = env.AUTH_JWKS_URL?.trim();
  const jwksJson = env.AUTH_JWKS?.trim();
  if (!jwksUrl && !jwksJson) return undefined;
  if (jwksUrl && jwksJson) throw new JwtConfigError("Set AUTH_JWKS_URL or AUTH_JWKS, not both");
  let keys: { jwksUrl: URL } | { jwks: JSONWebKeySet };
  if (jwksUrl) {
    try {
      keys = { jwksUrl: new URL(jwksUrl) };
    } catch {
      throw new JwtConfigError(`AUTH_JWKS_URL must be a URL, got ${JSON.stringify(jwksUrl)}`);
    }
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(jwksJson ?? "");
    } catch (error) {
      throw new JwtConfigError(`AUTH_JWKS is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || !Array.isArray((parsed as { keys?: unknown }).keys)) {
      throw new JwtConfigError('AUTH_JWKS must be a JWKS: {"keys": [...]}');
    }
    keys = { jwks: parsed as JSONWebKeySet };
  }
  const variable = jwksUrl ? "AUTH_JWKS_URL" : "AUTH_JWKS";
  const issuer = env.AUTH_ISSUER?.trim();
  const audience = env.AUTH_AUDIENCE?.trim();
  if (!issuer) throw new JwtConfigError(`${variable} is set, so AUTH_ISSUER must be set too (the token issuer)`);
  if (!audience) throw new JwtConfigError(`${variable} is set, so AUTH_AUDIENCE must be set too (this API's audience)`);
  const plaintext = (env.AUTH_PLAINTEXT_TOKENS?.trim() || "loopback") as PlaintextTokenPolicy;
  if (!["deny", "loopback", "allow"].includes(plaintext)) {
    throw new JwtConfigError(
      `AUTH_PLAINTEXT_TOKENS must be "deny", "loopback" or "allow", got ${JSON.stringify(env.AUTH_PLAINTEXT_TOKENS)}`,
    );
  }
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
  return { ...keys, issuer, audience, requiredScopes, plaintextTokens: plaintext };
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
  if (options.jwksUrl !== undefined && options.jwks !== undefined) {
    throw new JwtConfigError("Give at most one of jwksUrl and jwks");
  }
  // Without a key source no token verifies; the rules still keep admin and scoped methods shut.
  const source = options.jwks ?? (options.jwksUrl === undefined ? { keys: [] } : new URL(String(options.jwksUrl)));
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
      const role =
        typeof payload.role === "string" && ROLES.has(payload.role as PrincipalRole) ? payload.role : "client";
      const email = typeof payload.email === "string" ? payload.email : undefined;
      return { subject, scopes: scopesOf(payload), role: role as PrincipalRole, email, claims: payload };
    } catch (error) {
      if (error instanceof TokenRejected) throw error;
      const code = (error as { code?: unknown }).code;
      throw new TokenRejected(`${typeof code === "string" ? code : "ERR"}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };

  const rules = options.rules ?? new Map();
  const anonymous = new Set(options.anonymousMethods ?? []);
  const plaintext = options.plaintextTokens ?? "deny";

  return (next) => async (call) => {
    const context = call.context;
    const service = call.method.service;
    if (service === "grpc.health.v1.Health" || service.startsWith("grpc.reflection.")) return next(call);
    const values = context.metadata.get("authorization");
    const header = values.length === 1 && typeof values[0] === "string" ? values[0] : undefined;
    const rule = rules.get(call.method.path);
    const extra = scopesFor(required, call.method.path);
    const open =
      rule === undefined
        ? anonymous.has(call.method.path) || options.unannotated === "open"
        : rule.anonymous || rule.internal;

    if (values.length === 0) {
      if (open && extra.length === 0) return next(call);
      context.log.warn({ reason: "no token" }, "call refused: authentication failed");
      throw new Unauthenticated(UNAUTHENTICATED_MESSAGE);
    }
    if (!tokenMayTravel(plaintext, context)) {
      context.log.warn({ peer: context.peer }, "bearer token refused: it arrived over a plaintext connection");
      throw new Unauthenticated(TOKEN_REQUIRES_TLS_MESSAGE);
    }
    const match = header === undefined ? null : /^Bearer ([A-Za-z0-9_.~+/=-]+)$/i.exec(header.trim());
    if (!match?.[1]) {
      const reason = values.length > 1 ? "several authorization headers" : "not a Bearer token";
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
    if (rule?.admin && principal.role !== "admin") {
      context.log.warn({ subject: principal.subject, role: principal.role }, "call refused: admin only");
      throw new PermissionDenied(ADMIN_REQUIRED_MESSAGE);
    }
    // Admin tokens may do everything; every other token only what its scopes say.
    const needed = principal.role === "admin" ? extra : [...(rule?.scopes ?? []), ...extra];
    const missing = needed.filter((scope) => !principal.scopes.has(scope));
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

/** Whether a token may be read on this call's connection under `policy`. */
function tokenMayTravel(policy: PlaintextTokenPolicy, context: CallContext): boolean {
  if (context.raw.getAuthContext().transportSecurityType === "ssl" || policy === "allow") return true;
  if (policy === "deny") return false;
  return isLoopbackPeer(context.peer);
}

/** `127.0.0.1:5000`, `[::1]:5000`, `::ffff:127.0.0.1` → true. */
function isLoopbackPeer(peer: string): boolean {
  const host = peer.startsWith("[") ? peer.slice(1, peer.indexOf("]")) : peer.slice(0, peer.lastIndexOf(":"));
  const address = host.startsWith("::ffff:") ? host.slice(7) : host;
  if (isIP(address) === 4) return address.startsWith("127.");
  return address === "::1";
}
