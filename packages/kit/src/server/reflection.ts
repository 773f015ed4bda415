import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Server } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer, loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";

/** Services the kit always adds next to the application's. */
export const HEALTH_SERVICE_NAME = "grpc.health.v1.Health";
/** Both reflection versions are served: grpcurl and grpcio speak v1, older tools v1alpha. */
export const REFLECTION_SERVICE_NAMES = [
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

const require = createRequire(import.meta.url);

function reflectionProtos(): PackageDefinition {
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
  const definitions: PackageDefinition = {
    ...loadFileDescriptorSetFromBuffer(readFileSync(descriptorSetPath)),
    ...reflectionProtos(),
  };
  const services = [...serviceNames, HEALTH_SERVICE_NAME, ...REFLECTION_SERVICE_NAMES];
  new ReflectionService(definitions, { services }).addToServer(server);
}
