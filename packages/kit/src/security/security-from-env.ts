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
}

/**
 * Reads the security variables of a gRPC server and builds what `createServer` needs:
 * - `TLS_MODE`/`TLS_*`: transport credentials whose certificates reload when the files change;
 * - with `TLS_MODE=mtls`: the authorization policy (`AUTHZ_POLICY` / `AUTHZ_POLICY_FILE`, default:
 *   the marketplace may call the Recommendations APIs) enforced on every call, health and
 *   reflection included, and the caller's identity put on the call context (`AUTHZ_TRUST_DOMAIN`:
 *   the SPIFFE trust domain whose URI SANs name identities, default `online-books`);
 * - with `AUTH_JWKS_URL` (+ `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_REQUIRED_SCOPES`): bearer-token
 *   authentication (requires `TLS_MODE` tls or mtls). With mTLS too, a caller needs both.
 * - `HEALTH_PORT`: reported for {@link startProbeServer}.
 * Throws a configuration error naming the variable when something is wrong.
 */
export function createServerSecurity(
  env: NodeJS.ProcessEnv = process.env,
  options: SecurityFromEnvOptions = {},
): ServerSecurity {
  const tls = readTlsConfig(env, "server");
  const jwt = readJwtAuthConfig(env);
  if (jwt && tls.mode === "off") {
    throw new JwtConfigError("AUTH_JWKS_URL needs TLS_MODE=tls or mtls: bearer tokens must not travel in plaintext");
  }
  const policy = tls.mode === "mtls" ? readAuthzPolicy(env) : undefined;
  const trustDomain = env.AUTHZ_TRUST_DOMAIN?.trim() || undefined;
  const authz = { policy: policy ?? { allow: {} }, ...(trustDomain ? { trustDomain } : {}) };
  const interceptors: ServerInterceptor[] = [];
  if (jwt) interceptors.push(createJwtAuthInterceptor(jwt));
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
