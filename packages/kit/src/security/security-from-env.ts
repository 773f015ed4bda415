import type { ChannelCredentials, ServerCredentials } from "@grpc/grpc-js";
import { envInt } from "../config.js";
import type { ServerInterceptor } from "../interceptor.js";
import {
  type AuthzPolicy,
  createAuthorizationInterceptor,
  createGrpcAuthorizationInterceptor,
  readAuthzPolicy,
} from "./authorization.js";
import { createClientCredentialsTokenSource, withBearerToken } from "./bearer-credentials.js";
import { createJwtAuthInterceptor, JwtConfigError, readJwtAuthConfig } from "./jwt-auth.js";
import { readMethodRules } from "./method-rules.js";
import {
  type CredentialsOptions,
  createChannelCredentials,
  createServerCredentials,
  readTlsConfig,
  type TlsConfig,
} from "./tls.js";

/** Everything a server's `main.ts` needs for transport security and caller checks. */
export interface ServerSecurity {
  readonly tls: TlsConfig;
  /** Pass to `createServer({ credentials })`. */
  readonly credentials: ServerCredentials;
  /** Pass to `createServer({ interceptors })` (before the application's own). */
  readonly interceptors: readonly ServerInterceptor[];
  /** The authorization policy in force, when mTLS is on. */
  readonly policy: AuthzPolicy | undefined;
  /** `HEALTH_PORT`: where to start the plaintext probe server, when set. */
  readonly healthPort: number | undefined;
}

/** Options for {@link createServerSecurity} and {@link createClientSecurity}. */
export interface SecurityFromEnvOptions {
  /** Logs certificate reloads and unusable files (a pino logger fits). */
  readonly log?: CredentialsOptions["log"];
  /** Server: methods without a proto rule that anyone may call (e.g. `/Recommendations/Recommend`). */
  readonly anonymousMethods?: readonly string[];
  /** Server: where the method rules come from; default the `@obfy/protos` descriptor set. */
  readonly descriptorSetPath?: string;
}

/**
 * Reads the security variables of a gRPC server and builds what `createServer` needs:
 * - `TLS_MODE`/`TLS_*`: transport credentials whose certificates reload when the files change;
 * - with `TLS_MODE=mtls`: the authorization policy (`AUTHZ_POLICY` / `AUTHZ_POLICY_FILE`, default:
 *   the marketplace may call the Recommendations APIs) enforced on every call, health and
 *   reflection included, and the caller's identity put on the call context (`AUTHZ_TRUST_DOMAIN`:
 *   the SPIFFE trust domain whose URI SANs name identities, default `online-books`);
 * - every method's access rule from its proto (`option (bookstore.auth.v1.auth)`, see
 *   {@link readMethodRules}), checked on bearer tokens verified with `AUTH_JWKS_URL` or
 *   `AUTH_JWKS` (+ `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_REQUIRED_SCOPES`); tokens over plaintext
 *   only as `AUTH_PLAINTEXT_TOKENS` allows (default: from loopback peers). Without a key source,
 *   methods with no rule are open and those that need a token are refused. With mTLS too, a
 *   caller needs both.
 * - `HEALTH_PORT`: reported for {@link startProbeServer}.
 * Throws a configuration error naming the variable when something is wrong.
 */
export function createServerSecurity(
  env: NodeJS.ProcessEnv = process.env,
  options: SecurityFromEnvOptions = {},
): ServerSecurity {
  const tls = readTlsConfig(env, "server");
  const jwt = readJwtAuthConfig(env);
  const policy = tls.mode === "mtls" ? readAuthzPolicy(env) : undefined;
  const trustDomain = env.AUTHZ_TRUST_DOMAIN?.trim() || undefined;
  const authz = { policy: policy ?? { allow: {} }, ...(trustDomain ? { trustDomain } : {}) };
  const interceptors: ServerInterceptor[] = [];
  interceptors.push(
    createJwtAuthInterceptor({
      ...(jwt ?? { issuer: "", audience: "", unannotated: "open" as const }),
      rules: readMethodRules(options.descriptorSetPath),
      anonymousMethods: options.anonymousMethods ?? [],
    }),
  );
  if (policy) interceptors.push(createAuthorizationInterceptor(authz));
  const credentials = createServerCredentials(tls, {
    ...(options.log ? { log: options.log } : {}),
    interceptors: policy ? [createGrpcAuthorizationInterceptor(authz)] : [],
  });
  const healthPort = env.HEALTH_PORT?.trim()
    ? envInt(env, "HEALTH_PORT", undefined, { min: 0, max: 65535 })
    : undefined;
  return { tls, credentials, interceptors, policy, healthPort };
}

/** What a gRPC client's `main.ts` needs. */
export interface ClientSecurity {
  readonly tls: TlsConfig;
  /** Pass to `createClient(..., { credentials })`. */
  readonly credentials: ChannelCredentials;
}

/**
 * Reads the same `TLS_MODE`/`TLS_*` variables for a client, plus, optionally, an OAuth2
 * client-credentials grant for bearer tokens: `AUTH_TOKEN_URL`, `AUTH_CLIENT_ID`,
 * `AUTH_CLIENT_SECRET`, `AUTH_SCOPE`, `AUTH_AUDIENCE` (sent as `audience` for providers that
 * want it). Tokens are refused on a plaintext channel.
 */
export function createClientSecurity(
  env: NodeJS.ProcessEnv = process.env,
  options: SecurityFromEnvOptions = {},
): ClientSecurity {
  const tls = readTlsConfig(env, "client");
  const channel = createChannelCredentials(tls, options.log ? { log: options.log } : {});
  const tokenUrl = env.AUTH_TOKEN_URL?.trim();
  if (!tokenUrl) return { tls, credentials: channel };
  const clientId = env.AUTH_CLIENT_ID?.trim();
  const clientSecret = env.AUTH_CLIENT_SECRET?.trim();
  if (!clientId || !clientSecret) {
    throw new JwtConfigError("AUTH_TOKEN_URL is set, so AUTH_CLIENT_ID and AUTH_CLIENT_SECRET must be set too");
  }
  const scope = env.AUTH_SCOPE?.trim();
  const audience = env.AUTH_AUDIENCE?.trim();
  const getToken = createClientCredentialsTokenSource({
    tokenUrl,
    clientId,
    clientSecret,
    ...(scope ? { scope } : {}),
    ...(audience ? { audience } : {}),
  });
  return { tls, credentials: withBearerToken(channel, getToken) };
}
