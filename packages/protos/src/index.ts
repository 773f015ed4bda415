/**
 * Generated TypeScript for the `protos/` buf module (ts-proto, grpc-js service definitions),
 * plus the module's binary FileDescriptorSet for reflection and descriptor-driven tooling.
 *
 * The `gen/` folder is produced by `npm run generate` (run by `npm install` and `npm run build`)
 * and is never committed.
 * @packageDocumentation
 */
import { fileURLToPath } from "node:url";

// One namespace per proto package, sorted by path: APIs (bookstore.<service>.v1), events
// (bookstore.<domain>.events.v1), work-queue tasks (bookstore.<service>.tasks.v1), shared value
// types (bookstore.common.v1), then well-known, Google, gRPC, kit and legacy contracts.
export * as accountsV1 from "./gen/bookstore/accounts/v1/accounts.js";
export * as clientsV1 from "./gen/bookstore/accounts/v1/clients.js";
export * as cartV1 from "./gen/bookstore/cart/v1/cart.js";
export * as catalogEventsV1 from "./gen/bookstore/catalog/events/v1/events.js";
export * as catalogV1 from "./gen/bookstore/catalog/v1/catalog.js";
export * as addressV1 from "./gen/bookstore/common/v1/address.js";
export * as commonV1 from "./gen/bookstore/common/v1/money.js";
export * as inventoryEventsV1 from "./gen/bookstore/inventory/events/v1/events.js";
export * as inventoryV1 from "./gen/bookstore/inventory/v1/inventory.js";
export * as notificationsTasksV1 from "./gen/bookstore/notifications/tasks/v1/tasks.js";
export * as notificationsV1 from "./gen/bookstore/notifications/v1/notifications.js";
export * as ordersEventsV1 from "./gen/bookstore/orders/events/v1/events.js";
export * as ordersV1 from "./gen/bookstore/orders/v1/orders.js";
export * as paymentsEventsV1 from "./gen/bookstore/payments/events/v1/events.js";
export * as paymentsV1 from "./gen/bookstore/payments/v1/payments.js";
export * as recommendationsV1 from "./gen/bookstore/recommendations/v1/recommendations.js";
export * as reviewsEventsV1 from "./gen/bookstore/reviews/events/v1/events.js";
export * as reviewsV1 from "./gen/bookstore/reviews/v1/reviews.js";
export * as webhooksTasksV1 from "./gen/bookstore/webhooks/tasks/v1/tasks.js";
export * as webhooksV1 from "./gen/bookstore/webhooks/v1/webhooks.js";
export * as httpBody from "./gen/google/api/httpbody.js";
export * as duration from "./gen/google/protobuf/duration.js";
export * as fieldMask from "./gen/google/protobuf/field_mask.js";
export * as timestamp from "./gen/google/protobuf/timestamp.js";
export * as googleRpcErrorDetails from "./gen/google/rpc/error_details.js";
export * as googleRpcStatus from "./gen/google/rpc/status.js";
export * as healthV1 from "./gen/grpc/health/v1/health.js";
export * as deadLettersV1 from "./gen/kit/events/v1/dead_letters.js";
export * as kitTestingEventsV1 from "./gen/kit/testing/events/v1/events.js";
export * as dummyV1 from "./gen/kit/testing/v1/dummy.js";
export * as legacyRecommendations from "./gen/legacy/recommendations.js";

/**
 * Absolute path of the FileDescriptorSet that `buf build` writes for every file in `protos/`
 * (including imports). The same relative location works from `src/` and from `dist/`.
 */
export const descriptorSetPath: string = fileURLToPath(new URL("../descriptors/protos.binpb", import.meta.url));

/** Absolute path of the `protos/` buf module, for tools that compile `.proto` files at test time. */
export const protosRoot: string = fileURLToPath(new URL("../../../protos", import.meta.url));
