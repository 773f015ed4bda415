/**
 * Generated TypeScript for the `protos/` buf module (ts-proto, grpc-js service definitions),
 * plus the module's binary FileDescriptorSet for reflection and descriptor-driven tooling.
 *
 * The `gen/` folder is produced by `npm run generate` (run by `npm install` and `npm run build`)
 * and is never committed.
 * @packageDocumentation
 */
import { fileURLToPath } from "node:url";

export * as recommendationsV1 from "./gen/bookstore/recommendations/v1/recommendations.js";
export * as healthV1 from "./gen/grpc/health/v1/health.js";
export * as dummyV1 from "./gen/kit/testing/v1/dummy.js";
export * as kitTestingEventsV1 from "./gen/kit/testing/v1/events.js";
export * as legacyRecommendations from "./gen/legacy/recommendations.js";

/**
 * Absolute path of the FileDescriptorSet that `buf build` writes for every file in `protos/`
 * (including imports). The same relative location works from `src/` and from `dist/`.
 */
export const descriptorSetPath: string = fileURLToPath(new URL("../descriptors/protos.binpb", import.meta.url));

/** Absolute path of the `protos/` buf module, for tools that compile `.proto` files at test time. */
export const protosRoot: string = fileURLToPath(new URL("../../../protos", import.meta.url));
