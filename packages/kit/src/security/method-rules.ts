import { readFileSync } from "node:fs";
import { createFileRegistry, fromBinary, getOption, hasOption } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { descriptorSetPath as defaultDescriptorSetPath } from "@obfy/protos";

/** The full name of the method option that carries a method's access rule (protos/bookstore/auth/v1/auth.proto). */
export const METHOD_AUTH_OPTION = "bookstore.auth.v1.auth";

/** Who may call one method, as its proto declares with `option (bookstore.auth.v1.auth)`. */
export interface MethodRule {
  /** No token needed; a token that is sent must still be valid and carry `scopes`. */
  readonly anonymous: boolean;
  /** Scopes the token must all carry. */
  readonly scopes: readonly string[];
  /** Only tokens with role "admin" (scopes are then not checked). */
  readonly admin: boolean;
  /** Only the store's own services call it (their mTLS identity is checked by the authorization policy). */
  readonly internal: boolean;
}

/** Method path (`/pkg.Service/Method`) → rule, for every method of the descriptor set that declares one. */
export type MethodRules = ReadonlyMap<string, MethodRule>;

interface AuthOptionMessage {
  readonly anonymous: boolean;
  readonly scopes: readonly string[];
  readonly admin: boolean;
  readonly internal: boolean;
}

const cache = new Map<string, MethodRules>();

/**
 * Reads every method's access rule from a FileDescriptorSet (default: `@obfy/protos`'), once per
 * file: the contract is the one place that says who may call what, and the REST gateway reads the
 * same options for its OpenAPI document.
 */
export function readMethodRules(descriptorSetPath: string = defaultDescriptorSetPath): MethodRules {
  const cached = cache.get(descriptorSetPath);
  if (cached !== undefined) return cached;
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetPath)));
  const extension = registry.getExtension(METHOD_AUTH_OPTION);
  const rules = new Map<string, MethodRule>();
  if (extension !== undefined) {
    for (const file of registry.files) {
      for (const service of file.services) {
        for (const method of service.methods) {
          if (!hasOption(method, extension)) continue;
          const option = getOption(method, extension) as unknown as AuthOptionMessage;
          rules.set(`/${service.typeName}/${method.name}`, {
            anonymous: option.anonymous,
            scopes: [...option.scopes],
            admin: option.admin,
            internal: option.internal,
          });
        }
      }
    }
  }
  cache.set(descriptorSetPath, rules);
  return rules;
}
