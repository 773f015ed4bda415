/**
 * Development tooling, never for production: a local PKI (CA, server and client certificates
 * with SPIFFE identities, through openssl), an OAuth2 client-credentials token issuer with a
 * JWKS endpoint, and a test identity that signs store tokens without Accounts. `npm run certs`, `scripts/dev-token-issuer.ts` and the tests use them. Import
 * from `@obfy/kit/dev`; no production entry point of the kit exports them.
 * @packageDocumentation
 */
export {
  type CertificateAuthority,
  type CertificateUsage,
  createCertificateAuthority,
  createDevCertificates,
  type DevCertificates,
  type DevCertificatesOptions,
  type IssueCertificateOptions,
  type IssuedCertificate,
  issueCertificate,
  OpenSslError,
} from "./dev-certificates.js";
export {
  createDevTokenIssuer,
  type DevClient,
  type DevTokenIssuer,
  type DevTokenIssuerOptions,
} from "./dev-token-issuer.js";
export {
  createTestIdentity,
  STORE_AUDIENCE,
  STORE_ISSUER,
  type TestIdentity,
  type TestTokenClaims,
} from "./test-identity.js";
