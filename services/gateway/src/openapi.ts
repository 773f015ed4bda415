// The OpenAPI 3.1 document, generated from the protos (never written by hand): every route's
// path, parameters, body and response from its google.api.http rule, JSON Schemas of the
// canonical proto3 JSON of every message, descriptions from the proto comments, and security
// requirements from `option (bookstore.auth.v1.auth)`. scripts/generate-openapi.ts writes it to
// generated/openapi.json at build time.
import { type DescEnum, type DescField, type DescMessage, getOption, hasOption, ScalarType } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";
import { CLIENT_SCOPES } from "@obfy/kit/security";
import type { ApiDescriptors, Route } from "./descriptors.js";
import { isWellKnown, resolvePath } from "./transcode.js";

type Schema = Record<string, unknown>;

const OUTPUT_ONLY = 3;
const REQUIRED = 2;

const WELL_KNOWN: Readonly<Record<string, Schema>> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$", examples: ["1.5s"] },
  "google.protobuf.FieldMask": { type: "string", description: "Comma-separated field paths (camelCase)." },
  "google.protobuf.Empty": { type: "object", additionalProperties: false },
  "google.protobuf.Struct": { type: "object" },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array" },
  "google.protobuf.Any": {
    type: "object",
    properties: { "@type": { type: "string" } },
    required: ["@type"],
    additionalProperties: true,
  },
  "google.protobuf.BoolValue": { type: "boolean" },
  "google.protobuf.StringValue": { type: "string" },
  "google.protobuf.BytesValue": { type: "string", contentEncoding: "base64" },
  "google.protobuf.Int32Value": { type: "integer", format: "int32" },
  "google.protobuf.UInt32Value": { type: "integer", format: "int64", minimum: 0 },
  "google.protobuf.Int64Value": { type: "string", format: "int64" },
  "google.protobuf.UInt64Value": { type: "string", format: "uint64" },
  "google.protobuf.DoubleValue": { type: "number" },
  "google.protobuf.FloatValue": { type: "number" },
};

function scalarSchema(scalar: ScalarType): Schema {
  switch (scalar) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int64", minimum: 0 };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: "number" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      // Canonical proto3 JSON: 64-bit integers are decimal strings.
      return { type: "string", format: "uint64", pattern: "^[0-9]+$" };
    default:
      return { type: "string", format: "int64", pattern: "^-?[0-9]+$" };
  }
}

function describe(desc: Parameters<typeof getComments>[0]): string | undefined {
  const text = getComments(desc).leading?.trim();
  return text === undefined || text === "" ? undefined : text;
}

/** Builds the document. `version` is the API's version string. */
export function generateOpenApiDocument(descriptors: ApiDescriptors, version = "1.0.0"): Record<string, unknown> {
  const { registry, routes } = descriptors;
  const fieldBehavior = registry.getExtension("google.api.field_behavior");
  const schemas: Record<string, Schema> = {};

  const ref = (typeName: string): Schema => ({ $ref: `#/components/schemas/${typeName}` });

  function enumSchema(desc: DescEnum): Schema {
    if (desc.typeName === "google.protobuf.NullValue") return { type: "null" };
    if (schemas[desc.typeName] === undefined) {
      schemas[desc.typeName] = {
        type: "string",
        enum: desc.values.map((v) => v.name),
        ...(describe(desc) === undefined ? {} : { description: describe(desc) }),
      };
    }
    return ref(desc.typeName);
  }

  function messageSchema(desc: DescMessage): Schema {
    const known = WELL_KNOWN[desc.typeName];
    if (known !== undefined) return known;
    if (schemas[desc.typeName] === undefined) {
      const properties: Record<string, Schema> = {};
      const schema: Schema = { type: "object", properties, additionalProperties: false };
      const text = describe(desc);
      if (text !== undefined) schema.description = text;
      schemas[desc.typeName] = schema; // before the fields: messages may refer to themselves
      for (const field of desc.fields) properties[field.jsonName] = fieldSchema(field);
    }
    return ref(desc.typeName);
  }

  function singular(field: DescField): Schema {
    if (field.fieldKind === "message") return messageSchema(field.message);
    if (field.fieldKind === "enum") return enumSchema(field.enum);
    if (field.fieldKind === "scalar") return scalarSchema(field.scalar);
    throw new Error(`unexpected ${field.fieldKind}`);
  }

  function fieldSchema(field: DescField): Schema {
    let schema: Schema;
    if (field.fieldKind === "list") {
      const items =
        field.listKind === "message"
          ? messageSchema(field.message)
          : field.listKind === "enum"
            ? enumSchema(field.enum)
            : scalarSchema(field.scalar);
      schema = { type: "array", items };
    } else if (field.fieldKind === "map") {
      const values =
        field.mapKind === "message"
          ? messageSchema(field.message)
          : field.mapKind === "enum"
            ? enumSchema(field.enum)
            : scalarSchema(field.scalar);
      schema = { type: "object", additionalProperties: values };
    } else {
      schema = singular(field);
    }
    const notes: string[] = [];
    const text = describe(field);
    if (text !== undefined) notes.push(text);
    const behaviors =
      fieldBehavior !== undefined && hasOption(field, fieldBehavior)
        ? (getOption(field, fieldBehavior) as unknown as number[])
        : [];
    if (behaviors.includes(REQUIRED)) notes.push("Required.");
    const readOnly = behaviors.includes(OUTPUT_ONLY);
    if (notes.length === 0 && !readOnly) return schema;
    // A $ref with siblings is fine in OpenAPI 3.1 (JSON Schema 2020-12).
    return {
      ...schema,
      ...(notes.length > 0 ? { description: notes.join("\n\n") } : {}),
      ...(readOnly ? { readOnly } : {}),
    };
  }

  function queryParameters(route: Route): Schema[] {
    if (route.body === "*") return [];
    const bound = new Set(route.path.variables.map((v) => v.fieldPath.split(".")[0]));
    const parameters: Schema[] = [];
    const add = (field: DescField, name: string, depth: number) => {
      if (field.fieldKind === "message" && !isWellKnown(field.message)) {
        if (depth < 2) for (const inner of field.message.fields) add(inner, `${name}.${inner.name}`, depth + 1);
        return;
      }
      if (field.fieldKind === "map") return;
      if (field.fieldKind === "list" && field.listKind === "message" && !isWellKnown(field.message)) return;
      const schema = fieldSchema(field);
      parameters.push({
        name,
        in: "query",
        required: false,
        schema,
        ...(field.fieldKind === "list" ? { style: "form", explode: true } : {}),
        ...(typeof schema.description === "string" ? { description: schema.description } : {}),
      });
    };
    for (const field of route.method.input.fields) {
      if (bound.has(field.name) || field.name === route.body) continue;
      add(field, field.name, 0);
    }
    return parameters;
  }

  const status = messageSchema(descriptors.statusSchema);
  const errorResponse = {
    description: "A google.rpc.Status: the gRPC code, the service's message and details.",
    content: { "application/json": { schema: status } },
  };

  function responseSchema(route: Route): Schema {
    if (route.responseBody === "") return messageSchema(route.method.output);
    const field = route.method.output.fields.find((f) => f.name === route.responseBody);
    if (field === undefined) throw new Error(`${route.grpcPath}: no response field ${route.responseBody}`);
    return fieldSchema(field);
  }

  function security(route: Route): Schema[] {
    const rule = route.rule;
    const scopes = [...(rule?.scopes ?? [])];
    if (rule?.admin === true) return [{ bearer: [] }];
    const withToken = [{ oauth2: scopes }, { bearer: [] }];
    return rule?.anonymous === true ? [{}, ...withToken] : withToken;
  }

  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const item = paths[route.path.openApiPath] ?? {};
    paths[route.path.openApiPath] = item;
    const method = route.method;
    const parameters: Schema[] = route.path.variables.map((variable) => {
      const fields = resolvePath(method.input, variable.fieldPath);
      const last = fields?.[fields.length - 1];
      if (last === undefined) throw new Error(`${route.grpcPath}: no field ${variable.fieldPath}`);
      return {
        name: variable.fieldPath,
        in: "path",
        required: true,
        schema: last.fieldKind === "scalar" ? scalarSchema(last.scalar) : { type: "string" },
      };
    });
    parameters.push(...queryParameters(route));
    parameters.push(
      {
        name: "grpc-timeout",
        in: "header",
        required: false,
        description: "Deadline of the call, e.g. 500m or 2S (bounded by the gateway's maximum).",
        schema: { type: "string", pattern: "^[0-9]{1,8}[HMSmun]$" },
      },
      {
        name: "X-Timeout",
        in: "header",
        required: false,
        description: "Deadline of the call in milliseconds, when grpc-timeout is not set.",
        schema: { type: "string", pattern: "^[0-9]{1,9}$" },
      },
    );
    const description = describe(method);
    const operation: Record<string, unknown> = {
      operationId: `${route.service.name}_${method.name}`,
      tags: [route.service.name],
      summary: description?.split("\n")[0],
      description:
        `${description ?? ""}\n\ngRPC: \`${route.grpcPath}\`.` +
        (route.rule?.admin === true ? " Admin tokens only." : "") +
        (route.rule?.anonymous === true ? " Anonymous callers may call it (lower rate limit)." : ""),
      parameters,
      security: security(route),
      responses: {} as Record<string, unknown>,
    };
    if (route.body !== "") {
      let schema: Schema;
      if (route.body === "*") schema = messageSchema(method.input);
      else {
        const field = method.input.fields.find((f) => f.name === route.body);
        if (field === undefined) throw new Error(`${route.grpcPath}: no body field ${route.body}`);
        schema = fieldSchema(field);
      }
      operation.requestBody = { required: route.body !== "*", content: { "application/json": { schema } } };
    }
    const responses = operation.responses as Record<string, unknown>;
    if (route.streaming) {
      responses["200"] = {
        description:
          "Server-sent events: one `message` event per response (its `data` is the JSON of `x-event-data`), then `end`, or `error` with a google.rpc.Status.",
        content: { "text/event-stream": { schema: { type: "string" }, "x-event-data": responseSchema(route) } },
      };
    } else if (route.httpBody) {
      responses["200"] = { description: "The body's own media type.", content: { "*/*": { schema: {} } } };
    } else {
      responses["200"] = { description: "OK", content: { "application/json": { schema: responseSchema(route) } } };
    }
    if (route.httpMethod === "GET" && !route.streaming)
      responses["304"] = { description: "Not modified (If-None-Match)." };
    responses.default = errorResponse;
    item[route.httpMethod.toLowerCase()] = operation;
  }

  paths["/oauth/token"] = {
    post: {
      operationId: "OAuth2_Token",
      tags: ["OAuth2"],
      summary: "OAuth2 client-credentials grant (RFC 6749 §4.4): client id and secret for a short-lived JWT.",
      description:
        "Calls `bookstore.accounts.v1.ClientsService/IssueClientToken`. Send the client id and secret as HTTP Basic credentials, or as `client_id` and `client_secret` form fields.",
      security: [{}, { basic: [] }],
      requestBody: {
        required: true,
        content: {
          "application/x-www-form-urlencoded": {
            schema: {
              type: "object",
              properties: {
                grant_type: { type: "string", enum: ["client_credentials"] },
                scope: { type: "string", description: "Space-separated scopes; empty for every allowed one." },
                client_id: { type: "string" },
                client_secret: { type: "string" },
              },
              required: ["grant_type"],
            },
          },
        },
      },
      responses: {
        "200": {
          description: "The token.",
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: {
                  access_token: { type: "string" },
                  token_type: { type: "string", enum: ["Bearer"] },
                  expires_in: { type: "integer" },
                  scope: { type: "string" },
                },
                required: ["access_token", "token_type", "expires_in", "scope"],
                additionalProperties: false,
              },
            },
          },
        },
        default: {
          description: "An OAuth2 error (RFC 6749 §5.2).",
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: { error: { type: "string" }, error_description: { type: "string" } },
                required: ["error"],
                additionalProperties: false,
              },
            },
          },
        },
      },
    },
  };

  const sortedSchemas = Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)));
  return {
    openapi: "3.1.0",
    info: {
      title: "Online Books For You API",
      version,
      description:
        "The store's public REST/JSON API, transcoded from its gRPC contracts (google.api.http). JSON is the canonical proto3 mapping: camelCase names, 64-bit integers as strings, enums as names, timestamps as RFC 3339.",
    },
    servers: [{ url: "/" }],
    tags: [...new Set(routes.map((r) => r.service.name)), "OAuth2"].map((name) => ({ name })),
    paths,
    components: {
      schemas: sortedSchemas,
      securitySchemes: {
        oauth2: {
          type: "oauth2",
          description: "Third-party clients: the client-credentials grant at /oauth/token.",
          flows: {
            clientCredentials: {
              tokenUrl: "/oauth/token",
              scopes: Object.fromEntries(CLIENT_SCOPES.map((scope) => [scope, scope])),
            },
          },
        },
        bearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "A shopper's or admin's access token from Accounts.",
        },
        basic: { type: "http", scheme: "basic", description: "Client id and secret, at /oauth/token only." },
      },
    },
  };
}
