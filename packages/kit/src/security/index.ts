// Transport security (TLS/mTLS with hot reload), caller identity, authorization, bearer tokens,
// the plaintext health probe port, and development certificates and tokens.
export * from "./authorization.js";
export * from "./bearer-credentials.js";
export * from "./certificate-file-provider.js";
export * from "./dev-certificates.js";
export * from "./dev-token-issuer.js";
export * from "./jwt-auth.js";
export * from "./peer-identity.js";
export * from "./probe-server.js";
export * from "./security-from-env.js";
export * from "./tls.js";
