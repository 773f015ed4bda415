// The protos as protobuf-es descriptors (packages/protos/descriptors/protos.binpb): what the
// gateway transcodes, in canonical proto3 JSON, and what the OpenAPI document is generated from.
import { readFileSync } from "node:fs";
import {
  createFileRegistry,
  type DescMessage,
  type DescMethod,
  type DescService,
  type FileRegistry,
  fromBinary,
  getOption,
  hasOption,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { type MethodRule, readMethodRules } from "@obfy/kit/security";
import { descriptorSetPath as defaultDescriptorSetPath } from "@obfy/protos";
import { type PathTemplate, parsePathTemplate } from "./path-template.js";

/** HTTP methods of google.api.HttpRule's pattern. */
export type HttpMethod = "GET" | "PUT" | "POST" | "DELETE" | "PATCH";

/** One HTTP binding of one RPC. */
export interface Route {
  readonly service: DescService;
  readonly method: DescMethod;
  /** The gRPC path, `/bookstore.catalog.v1.CatalogService/GetBook`. */
  readonly grpcPath: string;
  /** The store service that serves it, from the proto package: `catalog` (its address is `CATALOG_ADDRESS`). */
  readonly backend: string;
  readonly httpMethod: HttpMethod;
  readonly path: PathTemplate;
  /** `*`, a top-level request field name, or "" (no body). */
  readonly body: string;
  /** A top-level response field name, or "" (the whole response). */
  readonly responseBody: string;
  /** The proto's access rule; `undefined` means "any valid token". */
  readonly rule: MethodRule | undefined;
  /** Server streaming: answered as server-sent events. */
  readonly streaming: boolean;
  /** The response is a google.api.HttpBody: its bytes are the HTTP body. */
  readonly httpBody: boolean;
}

interface HttpRuleShape {
  readonly pattern: { readonly case: string | undefined; readonly value?: unknown };
  readonly body: string;
  readonly responseBody: string;
  readonly additionalBindings: readonly HttpRuleShape[];
}

/** The descriptor set, its registry and every route, read once per file. */
export interface ApiDescriptors {
  readonly registry: FileRegistry;
  readonly routes: readonly Route[];
  readonly statusSchema: DescMessage;
}

const cache = new Map<string, ApiDescriptors>();

const METHODS: Readonly<Record<string, HttpMethod>> = {
  get: "GET",
  put: "PUT",
  post: "POST",
  delete: "DELETE",
  patch: "PATCH",
};

/** The store service owning a proto package: `bookstore.catalog.v1` → `catalog`. */
function backendOf(service: DescService): string {
  const parts = service.file.proto.package.split(".");
  return parts[0] === "bookstore" && parts[1] !== undefined ? parts[1] : service.typeName;
}

/**
 * Reads the descriptor set (default `@obfy/protos`') and every RPC of `bookstore.*.v1` that has
 * a `google.api.http` annotation. Routes with a custom verb come first, so `/v1/orders/{id}:watch`
 * is never taken for `/v1/orders/{id}`.
 */
export function loadApiDescriptors(descriptorSetPath: string = defaultDescriptorSetPath): ApiDescriptors {
  const cached = cache.get(descriptorSetPath);
  if (cached !== undefined) return cached;
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetPath)));
  const http = registry.getExtension("google.api.http");
  const statusSchema = registry.getMessage("google.rpc.Status");
  if (http === undefined || statusSchema === undefined) {
    throw new Error(`${descriptorSetPath} lacks google.api.http or google.rpc.Status`);
  }
  const rules = readMethodRules(descriptorSetPath);
  const routes: Route[] = [];
  for (const file of registry.files) {
    if (!/^bookstore\.[a-z_]+\.v1$/.test(file.proto.package)) continue;
    for (const service of file.services) {
      for (const method of service.methods) {
        if (!hasOption(method, http)) continue;
        if (method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming") continue;
        const rule = getOption(method, http) as unknown as HttpRuleShape;
        for (const binding of [rule, ...rule.additionalBindings]) {
          const verb = binding.pattern.case;
          const httpMethod = verb === undefined ? undefined : METHODS[verb];
          if (httpMethod === undefined || typeof binding.pattern.value !== "string") continue;
          const grpcPath = `/${service.typeName}/${method.name}`;
          routes.push({
            service,
            method,
            grpcPath,
            backend: backendOf(service),
            httpMethod,
            path: parsePathTemplate(binding.pattern.value),
            body: binding.body,
            responseBody: binding.responseBody,
            rule: rules.get(grpcPath),
            streaming: method.methodKind === "server_streaming",
            httpBody: method.output.typeName === "google.api.HttpBody",
          });
        }
      }
    }
  }
  routes.sort((a, b) => Number(b.path.verb !== "") - Number(a.path.verb !== ""));
  const descriptors = { registry, routes, statusSchema };
  cache.set(descriptorSetPath, descriptors);
  return descriptors;
}
