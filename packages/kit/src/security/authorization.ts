import { readFileSync } from "node:fs";
import {
  type ServerInterceptor as GrpcServerInterceptor,
  Metadata,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status,
} from "@grpc/grpc-js";
import { PermissionDenied, Unauthenticated } from "../errors.js";
import type { ServerInterceptor } from "../interceptor.js";
import { certificateIdentity, DEFAULT_TRUST_DOMAIN, type PeerIdentity, peerIdentityKey } from "./peer-identity.js";

/**
 * Who may call what. `allow` maps an identity name (see {@link PeerIdentity.name}; `"*"` = any
 * authenticated caller) to method patterns:
 * - `/pkg.Service/Method`: one method;
 * - `/pkg.Service/*`: every method of a service;
 * - `*`: every method except reflection.
 *
 * Health checks (`/grpc.health.v1.Health/*`) are always allowed, for anyone. Reflection
 * (`grpc.reflection.v1[alpha].ServerReflection`) is allowed only by a pattern naming it.
 *
 * ```json
 * { "allow": { "marketplace": ["/bookstore.recommendations.v1.RecommendationsService/*", "/Recommendations/*"] } }
 * ```
 */
export interface AuthzPolicy {
  readonly allow: Readonly<Record<string, readonly string[]>>;
}

/** The policy used when neither `AUTHZ_POLICY` nor `AUTHZ_POLICY_FILE` is set. */
export const DEFAULT_AUTHZ_POLICY: AuthzPolicy = {
  allow: {
    marketplace: ["/bookstore.recommendations.v1.RecommendationsService/*", "/Recommendations/*"],
  },
};

const HEALTH_SERVICE = "grpc.health.v1.Health";
const REFLECTION_SERVICES = new Set([
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);
const PATTERN = /^(\*|\/[A-Za-z_][\w.]*\/(\*|[A-Za-z_]\w*))$/;

/** Thrown for a malformed policy; the message says which entry and why. */
export class AuthzPolicyError extends Error {
  override readonly name = "AuthzPolicyError";
}

/** Checks the shape of a parsed policy; `source` names where it came from in error messages. */
function parseAuthzPolicy(value: unknown, source = "authorization policy"): AuthzPolicy {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AuthzPolicyError(`${source} must be a JSON object like {"allow": {"marketplace": ["/pkg.Service/*"]}}`);
  }
  const allow = (value as { allow?: unknown }).allow;
  if (typeof allow !== "object" || allow === null || Array.isArray(allow)) {
    throw new AuthzPolicyError(`${source}: "allow" must be an object mapping identities to method patterns`);
  }
  const extra = Object.keys(value).filter((key) => key !== "allow");
  if (extra.length > 0) throw new AuthzPolicyError(`${source}: unknown key(s) ${extra.join(", ")}`);
  const result: Record<string, string[]> = {};
  for (const [identity, patterns] of Object.entries(allow)) {
    if (!Array.isArray(patterns)) throw new AuthzPolicyError(`${source}: allow.${identity} must be an array`);
    result[identity] = patterns.map((pattern, i) => {
      if (typeof pattern !== "string" || !PATTERN.test(pattern)) {
        throw new AuthzPolicyError(
          `${source}: allow.${identity}[${i}] = ${JSON.stringify(pattern)} is not /pkg.Service/Method, /pkg.Service/* or *`,
        );
      }
      return pattern;
    });
  }
  return { allow: result };
}

/**
 * Reads the policy from `AUTHZ_POLICY` (JSON) or `AUTHZ_POLICY_FILE` (a JSON file), else
 * {@link DEFAULT_AUTHZ_POLICY}. Setting both is an error (which one wins would be a guess).
 */
export function readAuthzPolicy(env: NodeJS.ProcessEnv = process.env): AuthzPolicy {
  const inline = env.AUTHZ_POLICY?.trim();
  const file = env.AUTHZ_POLICY_FILE?.trim();
  if (inline && file) throw new AuthzPolicyError("Set AUTHZ_POLICY or AUTHZ_POLICY_FILE, not both");
  let text: string;
  let source: string;
  if (inline) {
    text = inline;
    source = "AUTHZ_POLICY";
  } else if (file) {
    source = `AUTHZ_POLICY_FILE (${file})`;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new AuthzPolicyError(`Cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
  } else {
    return DEFAULT_AUTHZ_POLICY;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AuthzPolicyError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  return parseAuthzPolicy(parsed, source);
}

function serviceOf(path: string): string {
  return path.split("/")[1] ?? "";
}

function matches(pattern: string, path: string): boolean {
  if (pattern === "*") return !REFLECTION_SERVICES.has(serviceOf(path));
  if (pattern.endsWith("/*")) return serviceOf(path) === pattern.slice(1, -2);
  return pattern === path;
}

/** The outcome of {@link authorize}. */
export type AuthzDecision =
  | { readonly allowed: true; readonly reason: "health" | "policy" }
  | {
      readonly allowed: false;
      readonly code: status.UNAUTHENTICATED | status.PERMISSION_DENIED;
      readonly message: string;
    };

/** Decides whether `identity` may call the method at `path` under `policy`. Pure; no I/O. */
export function authorize(policy: AuthzPolicy, identity: PeerIdentity | undefined, path: string): AuthzDecision {
  if (serviceOf(path) === HEALTH_SERVICE) return { allowed: true, reason: "health" };
  if (identity === undefined) {
    return {
      allowed: false,
      code: status.UNAUTHENTICATED,
      message: "Caller identity required: connect with a client certificate (mTLS)",
    };
  }
  const patterns = [...(policy.allow[identity.name] ?? []), ...(policy.allow["*"] ?? [])];
  if (patterns.some((pattern) => matches(pattern, path))) return { allowed: true, reason: "policy" };
  return {
    allowed: false,
    code: status.PERMISSION_DENIED,
    message: `Identity "${identity.name}" is not allowed to call ${path}`,
  };
}

/** Options for {@link createAuthorizationInterceptor} and {@link createGrpcAuthorizationInterceptor}. */
export interface AuthorizationOptions {
  /** Usually `readAuthzPolicy()`. */
  readonly policy: AuthzPolicy;
  /** SPIFFE trust domain whose URI SANs name identities (default `online-books`). */
  readonly trustDomain?: string;
}

/**
 * A kit interceptor that puts the caller's identity on the context ({@link peerIdentityKey}:
 * one already set, e.g. by the JWT interceptor, else the verified client certificate's) and
 * enforces `policy` for the method: PERMISSION_DENIED "Identity "x" is not allowed to call /p.S/M"
 * for a known caller, UNAUTHENTICATED for an anonymous one; health checks always pass.
 *
 * Kit interceptors only see the application's services. Health and reflection are registered
 * directly on the grpc-js server, so also install {@link createGrpcAuthorizationInterceptor} through
 * `createServerCredentials(config, { interceptors })` to gate reflection.
 */
export function createAuthorizationInterceptor(options: AuthorizationOptions): ServerInterceptor {
  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  return (next) => async (call) => {
    const context = call.context;
    let identity = context.get(peerIdentityKey);
    if (identity === undefined) {
      identity = certificateIdentity(context.raw, trustDomain);
      if (identity !== undefined) context.set(peerIdentityKey, identity);
    }
    const decision = authorize(options.policy, identity, call.method.path);
    if (!decision.allowed) {
      context.log.warn({ identity: identity?.name, method: call.method.path }, "call refused by authorization policy");
      throw decision.code === status.PERMISSION_DENIED
        ? new PermissionDenied(decision.message)
        : new Unauthenticated(decision.message);
    }
    return next(call);
  };
}

/**
 * The same policy as a grpc-js native server interceptor, which sees every call on the port,
 * including health and reflection that bypass the kit's interceptors. The identity comes from the
 * verified client certificate only. Install it with
 * `createServerCredentials(config, { interceptors: [createGrpcAuthorizationInterceptor({ policy })] })`.
 */
export function createGrpcAuthorizationInterceptor(options: AuthorizationOptions): GrpcServerInterceptor {
  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  return (method, call) => {
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const decision = authorize(options.policy, certificateIdentity(call, trustDomain), method.path);
        if (decision.allowed) {
          next(metadata);
          return;
        }
        call.sendStatus({ code: decision.code, details: decision.message, metadata: new Metadata() });
      })
      .build();
    return new ServerInterceptingCall(call, { start: (next) => next(listener) });
  };
}
