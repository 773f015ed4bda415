// The Accounts service's definition and the pieces its tests and tools use.
export { accountsService } from "./app.js";
export { DEFAULT_AUDIENCE, DEFAULT_ISSUER, JWKS_PATH, withOwnTokenVerification } from "./config.js";
