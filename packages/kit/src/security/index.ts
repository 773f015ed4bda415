// Transport security (TLS/mTLS with hot reload), caller identity, authorization, bearer tokens
// and the plaintext health probe port (`@obfy/kit/security`). Development certificates and
// tokens are in `@obfy/kit/dev`.
export {
  type AuthorizationOptions,
  type AuthzDecision,
  type AuthzPolicy,
  AuthzPolicyError,
  authorize,
  createAuthorizationInterceptor,
  createGrpcAuthorizationInterceptor,
  DEFAULT_AUTHZ_POLICY,
  readAuthzPolicy,
} from "./authorization.js";
export {
  type ClientCredentialsOptions,
  createClientCredentialsTokenSource,
  InsecureTokenTransportError,
  type TokenSource,
  withBearerToken,
} from "./bearer-credentials.js";
export {
  ADMIN_REQUIRED_MESSAGE,
  createJwtAuthInterceptor,
  JWT_ALGORITHMS,
  type JwtAuthOptions,
  JwtConfigError,
  type JwtPrincipal,
  jwtPrincipalKey,
  type PlaintextTokenPolicy,
  type Principal,
  type PrincipalRole,
  principalOf,
  type RequiredScopes,
  readJwtAuthConfig,
  requirePrincipal,
  TOKEN_REQUIRES_TLS_MESSAGE,
  UNAUTHENTICATED_MESSAGE,
} from "./jwt-auth.js";
export { METHOD_AUTH_OPTION, type MethodRule, type MethodRules, readMethodRules } from "./method-rules.js";
export {
  type AuthContextSource,
  certificateIdentity,
  DEFAULT_TRUST_DOMAIN,
  getPeerIdentity,
  identityFromCertificate,
  type PeerIdentity,
  peerIdentityKey,
  spiffeId,
} from "./peer-identity.js";
export {
  type HealthRegistrar,
  type ProbeServer,
  type ProbeServerOptions,
  startProbeServer,
} from "./probe-server.js";
export { CLIENT_SCOPES, SHOPPER_SCOPES } from "./scopes.js";
export {
  type ClientSecurity,
  createClientSecurity,
  createServerSecurity,
  type SecurityFromEnvOptions,
  type ServerSecurity,
} from "./security-from-env.js";
export {
  type CredentialsOptions,
  createChannelCredentials,
  createServerCredentials,
  readTlsConfig,
  type ServerCredentialsOptions,
  type TlsConfig,
  type TlsMode,
  type TlsRole,
} from "./tls.js";
export { TlsConfigError } from "./tls-config-error.js";
