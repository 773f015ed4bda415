import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Server } from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";

/** Services the kit always adds next to the application's. */
export const HEALTH_SERVICE_NAME = "grpc.health.v1.Health";
/** Both reflection versions are served: grpcurl and grpcio speak v1, older tools v1alpha. */
export const REFLECTION_SERVICE_NAMES = [
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

// @grpc/reflection and @grpc/proto-loader (with protobufjs) cost ~18 MB and tens of ms to load,
// and reflection is off in production: they are loaded when a server turns it on. createRequire
// keeps createServer synchronous; both are CommonJS.
const require = createRequire(import.meta.url);
type ProtoLoader = typeof import("@grpc/proto-loader");
type Reflection = typeof import("@grpc/reflection");

function reflectionProtos(loadSync: ProtoLoader["loadSync"]): PackageDefinition {
  const protoRoot = join(dirname(require.resolve("@grpc/reflection/package.json")), "build", "proto");
  return loadSync(["grpc/reflection/v1/reflection.proto", "grpc/reflection/v1alpha/reflection.proto"], {
    includeDirs: [protoRoot],
  });
}

/**
 * Adds gRPC server reflection (v1 and v1alpha) to `server`, describing the types in the buf
 * FileDescriptorSet at `descriptorSetPath` and listing only `serviceNames` plus health and
 * reflection themselves.
 */
export function addReflection(server: Server, descriptorSetPath: string, serviceNames: readonly string[]): void {
  const { loadFileDescriptorSetFromBuffer, loadSync } = require("@grpc/proto-loader") as ProtoLoader;
  const { ReflectionService } = require("@grpc/reflection") as Reflection;
  const definitions: PackageDefinition = {
    ...loadFileDescriptorSetFromBuffer(readFileSync(descriptorSetPath)),
    ...reflectionProtos(loadSync),
  };
  const services = [...serviceNames, HEALTH_SERVICE_NAME, ...REFLECTION_SERVICE_NAMES];
  new ReflectionService(definitions, { services }).addToServer(server);
}
