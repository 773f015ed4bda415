// HTTP ⇄ protobuf by the google.api.http rules, in canonical proto3 JSON (protobuf-es, which
// passes the conformance suite): path variables, `body: "*"` or a body field, the remaining
// fields from the query string, and `response_body`.
import {
  type DescField,
  type DescMessage,
  type FileRegistry,
  fromBinary,
  fromJson,
  type JsonValue,
  ScalarType,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import type { Route } from "./descriptors.js";
import { invalidField } from "./errors.js";

/** Messages whose JSON form is a string, a number or anything: not walked for unknown fields, allowed in a query. */
function isWellKnown(message: DescMessage): boolean {
  return message.typeName.startsWith("google.protobuf.");
}

function findField(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((f) => f.name === name || f.jsonName === name);
}

/** Rejects keys of `json` that are not fields of `message`, naming the first one by its path. */
function checkKnownFields(message: DescMessage, json: unknown, prefix: string): void {
  if (typeof json !== "object" || json === null || Array.isArray(json) || isWellKnown(message)) return;
  for (const [key, value] of Object.entries(json)) {
    const field = findField(message, key);
    const path = `${prefix}${key}`;
    if (field === undefined) throw invalidField(path, `Unknown field "${path}"`);
    if (value === null) continue;
    if (field.fieldKind === "message") checkKnownFields(field.message, value, `${path}.`);
    else if (field.fieldKind === "list" && field.listKind === "message" && Array.isArray(value)) {
      value.forEach((item, i) => {
        checkKnownFields(field.message, item, `${path}[${i}].`);
      });
    } else if (field.fieldKind === "map" && field.mapKind === "message" && typeof value === "object") {
      for (const [k, item] of Object.entries(value)) checkKnownFields(field.message, item, `${path}.${k}.`);
    }
  }
}

/** The fields along a dotted path (`book.book_id`), or undefined when one is not there or not a message on the way. */
function resolvePath(message: DescMessage, path: string): DescField[] | undefined {
  const fields: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const name of path.split(".")) {
    if (current === undefined) return undefined;
    const field = findField(current, name);
    if (field === undefined) return undefined;
    fields.push(field);
    current = field.fieldKind === "message" && !isWellKnown(field.message) ? field.message : undefined;
  }
  return fields;
}

function setAt(json: Record<string, unknown>, fields: readonly DescField[], value: unknown): void {
  let target = json;
  for (const [i, field] of fields.entries()) {
    if (i === fields.length - 1) {
      target[field.jsonName] = value;
      return;
    }
    const existing = target[field.jsonName] ?? target[field.name];
    const next = typeof existing === "object" && existing !== null ? (existing as Record<string, unknown>) : {};
    delete target[field.name];
    target[field.jsonName] = next;
    target = next;
  }
}

/** A query parameter's JSON value for its field: strings, except booleans; lists take every value. */
function queryJson(field: DescField, path: string, values: readonly string[]): unknown {
  const one = (value: string, scalar: ScalarType | undefined): unknown => {
    if (scalar !== ScalarType.BOOL) return value;
    if (value === "true" || value === "1") return true;
    if (value === "false" || value === "0") return false;
    throw invalidField(path, `Invalid value for query parameter "${path}": expected true or false`);
  };
  switch (field.fieldKind) {
    case "scalar":
    case "enum":
      if (values.length > 1) throw invalidField(path, `Query parameter "${path}" may be given once`);
      return one(values[0] ?? "", field.fieldKind === "scalar" ? field.scalar : undefined);
    case "list":
      if (field.listKind === "message" && !isWellKnown(field.message)) break;
      return values.map((v) => one(v, field.listKind === "scalar" ? field.scalar : undefined));
    case "message":
      if (!isWellKnown(field.message)) break;
      if (values.length > 1) throw invalidField(path, `Query parameter "${path}" may be given once`);
      return values[0];
    default:
      break;
  }
  throw invalidField(path, `Field "${path}" cannot be set in the query string; send it in a request body`);
}

/** What an HTTP request brings to a call. */
export interface HttpRequestParts {
  /** The path variables' values, in the template's order. */
  readonly pathValues: readonly string[];
  readonly query: URLSearchParams;
  /** The parsed JSON body, `undefined` when there was none. */
  readonly body: unknown;
}

/** Query parameters the gateway itself reads, never fields. */
const RESERVED_QUERY = new Set(["access_token", "$alt", "alt"]);

/**
 * The request message of `route` built from `parts`, in binary. Throws a 400 GatewayError that
 * names the field for unknown fields, values of the wrong type and a body where none belongs.
 */
export function encodeRequest(route: Route, registry: FileRegistry, parts: HttpRequestParts): Uint8Array {
  const input = route.method.input;
  let json: Record<string, unknown> = {};
  if (route.body === "*") {
    if (parts.body !== undefined) {
      if (typeof parts.body !== "object" || parts.body === null || Array.isArray(parts.body)) {
        throw invalidField("*", "The request body must be a JSON object");
      }
      checkKnownFields(input, parts.body, "");
      json = { ...(parts.body as Record<string, unknown>) };
    }
  } else if (route.body !== "") {
    const field = findField(input, route.body);
    if (field === undefined) throw new Error(`${route.grpcPath}: body field ${route.body} is not in ${input.typeName}`);
    if (parts.body !== undefined) {
      if (field.fieldKind === "message") checkKnownFields(field.message, parts.body, "");
      json[field.jsonName] = parts.body;
    }
  } else if (parts.body !== undefined) {
    throw invalidField("*", `${route.httpMethod} ${route.path.template} takes no request body`);
  }

  route.path.variables.forEach((variable, i) => {
    const fields = resolvePath(input, variable.fieldPath);
    if (fields === undefined) throw new Error(`${route.grpcPath}: no field ${variable.fieldPath}`);
    setAt(json, fields, parts.pathValues[i] ?? "");
  });

  if (route.body !== "*") {
    const pathFields = new Set(route.path.variables.map((v) => v.fieldPath));
    const keys = [...new Set(parts.query.keys())];
    for (const key of keys) {
      if (RESERVED_QUERY.has(key)) continue;
      const fields = resolvePath(input, key);
      const top = fields?.[0];
      if (fields === undefined || top === undefined || (route.body !== "" && findField(input, route.body) === top)) {
        throw invalidField(key, `Unknown query parameter "${key}"`);
      }
      if (pathFields.has(key)) continue;
      const last = fields[fields.length - 1] as DescField;
      setAt(json, fields, queryJson(last, key, parts.query.getAll(key)));
    }
  }

  let message: ReturnType<typeof fromJson>;
  try {
    message = fromJson(input, json as JsonValue, { registry });
  } catch (error) {
    const text = (error as Error).message;
    const field = /cannot decode field ([\w.]+) from JSON/.exec(text)?.[1]?.split(".").pop() ?? "*";
    const reason = text.replace(/^cannot decode (field|message) [\w.]+ from JSON: /, "");
    throw invalidField(field, `Invalid value for field "${field}": ${reason}`);
  }
  return toBinary(input, message);
}

/** A response message as JSON, or its `response_body` field. */
export function decodeResponse(route: Route, registry: FileRegistry, bytes: Uint8Array): JsonValue {
  const output = route.method.output;
  const json = toJson(output, fromBinary(output, bytes), { registry, alwaysEmitImplicit: true }) as Record<
    string,
    JsonValue
  >;
  if (route.responseBody === "") return json;
  const field = findField(output, route.responseBody);
  return (field === undefined ? undefined : json[field.jsonName]) ?? {};
}

/** A google.api.HttpBody response: its content type and bytes. */
export function decodeHttpBody(
  route: Route,
  bytes: Uint8Array,
): { readonly contentType: string; readonly data: Uint8Array } {
  const message = fromBinary(route.method.output, bytes) as unknown as { contentType: string; data: Uint8Array };
  return { contentType: message.contentType || "application/octet-stream", data: message.data };
}

/** Used by the OpenAPI generator and the transcoder alike. */
export { findField, isWellKnown, resolvePath };
