// The deployables `npm start` runs (scripts/start.mjs), one entry each: adding a service to the
// local system is adding its entry here. From it `npm start` gives every service its ports, its
// own database on the embedded PostgreSQL, and the addresses of the others:
//
//   PORT, METRICS_PORT                     its own (overridden by <NAME>_PORT, <NAME>_METRICS_PORT)
//   DATABASE_URL                           its database, when `database` is true
//   EVENT_BUS, EVENT_BUS_DATABASE_URL      the event bus: PostgreSQL (pg-boss) in database `bus`
//   <OTHER>_ADDRESS=127.0.0.1:<port>       every gRPC service, e.g. CATALOG_ADDRESS
//   <OTHER>_PORT                           the same port alone (the Marketplace reads RECOMMENDATIONS_PORT)
//
// The ports planned for the store, so that entries added later do not collide (gRPC / metrics):
// recommendations 50051 / 9464, catalog 50052 / 9466, inventory 50053 / 9467,
// accounts 50054 / 9468, reviews 50055 / 9469, cart 50056 / 9470, orders 50057 / 9471,
// payments 50058 / 9472, notifications 50059 / 9473, webhooks 50060 / 9475;
// HTTP: marketplace 5000 / 9465, gateway 8080 / 9474.
// test/services-registry.test.ts checks the entries against services/ and each other.

/**
 * @typedef {object} Service
 * @property {string} name the folder under services/, and the name of its database and role
 * @property {"grpc" | "http"} protocol what it serves on `port`
 * @property {number} port
 * @property {number} metricsPort its Prometheus /metrics port
 * @property {boolean} database whether it owns a database
 * @property {string} [open] for the web front: the path `npm start` tells the user to open
 * @property {boolean} [issuesTokens] the token issuer, whose admin port serves the JWKS
 */

/** @type {readonly Service[]} In start order: a service after those it calls. */
export const SERVICES = Object.freeze([
  // First: it calls nobody, and every other service verifies tokens against its JWKS (:9468).
  // `issuesTokens`: its admin port serves the JWKS every other service reads (AUTH_JWKS_URL).
  Object.freeze({
    name: "accounts",
    protocol: "grpc",
    port: 50054,
    metricsPort: 9468,
    database: true,
    issuesTokens: true,
  }),
  Object.freeze({ name: "catalog", protocol: "grpc", port: 50052, metricsPort: 9466, database: true }),
  Object.freeze({ name: "recommendations", protocol: "grpc", port: 50051, metricsPort: 9464, database: true }),
  Object.freeze({ name: "inventory", protocol: "grpc", port: 50053, metricsPort: 9467, database: true }),
  Object.freeze({ name: "reviews", protocol: "grpc", port: 50055, metricsPort: 9469, database: true }),
  Object.freeze({ name: "cart", protocol: "grpc", port: 50056, metricsPort: 9470, database: true }),
  Object.freeze({ name: "payments", protocol: "grpc", port: 50058, metricsPort: 9472, database: true }),
  Object.freeze({ name: "orders", protocol: "grpc", port: 50057, metricsPort: 9471, database: true }),
  Object.freeze({ name: "notifications", protocol: "grpc", port: 50059, metricsPort: 9473, database: true }),
  Object.freeze({ name: "webhooks", protocol: "grpc", port: 50060, metricsPort: 9475, database: true }),
  Object.freeze({ name: "marketplace", protocol: "http", port: 5000, metricsPort: 9465, database: false, open: "/" }),
  Object.freeze({ name: "gateway", protocol: "http", port: 8080, metricsPort: 9474, database: false }),
]);

/** The database of the event bus's PostgreSQL transport, on the same server, used by every service. */
export const BUS_DATABASE = "bus";

/** `catalog` → `CATALOG`, `order-history` → `ORDER_HISTORY`: the prefix of a service's variables. */
export function variablePrefix(name) {
  return name.toUpperCase().replaceAll("-", "_");
}
