// The gateway's public surface: what its tests, the bench and tools use.
export { createGateway, type Gateway, type GatewayOptions } from "./app.js";
export { type Authenticator, createAuthenticator, type GatewayPrincipal } from "./auth.js";
export { addressOf, type Backends, createBackends, DEFAULT_PORTS } from "./backends.js";
export { type GatewayConfig, readGatewayConfig } from "./config.js";
export { type ApiDescriptors, loadApiDescriptors, type Route } from "./descriptors.js";
export { HTTP_STATUS, type StatusJson } from "./errors.js";
export { generateOpenApiDocument } from "./openapi.js";
export { OPENAPI_FILE, type RunningGateway, type StartGatewayOptions, startGateway } from "./start-gateway.js";
