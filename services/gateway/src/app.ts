// The REST gateway as a fastify app, built without listening (tests inject or listen on port 0).
import { createHash, randomUUID } from "node:crypto";
import compress from "@fastify/compress";
import cors from "@fastify/cors";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { status as grpcStatus } from "@grpc/grpc-js";
import { ClientError } from "@obfy/kit/client";
import type { Logger } from "@obfy/kit/core";
import type { Metrics } from "@obfy/kit/observability";
import fastify, { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, LogController } from "fastify";
import type { Authenticator, GatewayPrincipal } from "./auth.js";
import type { Backends } from "./backends.js";
import type { GatewayConfig } from "./config.js";
import type { ApiDescriptors, Route } from "./descriptors.js";
import {
  BAD_TIMEOUT,
  BODY_TOO_LARGE,
  createStatusJson,
  DEADLINE_MESSAGE,
  GatewayError,
  HTTP_STATUS,
  INTERNAL_MESSAGE,
  MALFORMED_JSON,
  METHOD_NOT_ALLOWED_MESSAGE,
  NOT_FOUND_MESSAGE,
  RATE_LIMITED,
  type StatusJson,
  statusTrailer,
  UNAVAILABLE_MESSAGE,
  UNSUPPORTED_MEDIA_TYPE,
} from "./errors.js";
import { basicCredentials, createTokenHandler } from "./oauth-token.js";
import { matchPathTemplate } from "./path-template.js";
import { decodeHttpBody, decodeResponse, encodeRequest } from "./transcode.js";

/** What {@link createGateway} needs. */
export interface GatewayOptions {
  readonly config: GatewayConfig;
  readonly descriptors: ApiDescriptors;
  readonly backends: Backends;
  readonly authenticator: Authenticator;
  /** The OpenAPI document served at /openapi.json and shown at /docs. */
  readonly openApi: Record<string, unknown>;
  readonly logger: Logger;
  readonly metrics?: Pick<Metrics, "httpPlugin">;
}

declare module "fastify" {
  interface FastifyRequest {
    principal?: GatewayPrincipal;
    /** The raw JSON text of the body, parsed by the route (so a parse error can name its position). */
    jsonText?: string;
  }
}

const GRPC_TIMEOUT_UNITS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;

/** The deadline a request asks for, bounded by the gateway's maximum; `undefined` when it sets none. */
export function requestedTimeoutMs(request: FastifyRequest, maxMs: number): number | undefined {
  const grpcTimeout = request.headers["grpc-timeout"];
  const xTimeout = request.headers["x-timeout"];
  let ms: number | undefined;
  if (typeof grpcTimeout === "string") {
    const match = /^(\d{1,8})([HMSmun])$/.exec(grpcTimeout.trim());
    if (match === null) throw new GatewayError(400, BAD_TIMEOUT, "grpc-timeout");
    ms = Number(match[1]) * (GRPC_TIMEOUT_UNITS[match[2] as string] ?? 1);
  } else if (typeof xTimeout === "string") {
    if (!/^\d{1,9}$/.test(xTimeout.trim())) throw new GatewayError(400, BAD_TIMEOUT, "x-timeout");
    ms = Number(xTimeout.trim());
  }
  return ms === undefined ? undefined : Math.min(Math.max(ms, 1), maxMs);
}

function findRoute(routes: readonly Route[], method: string, path: string) {
  let pathMatched = false;
  const allowed = new Set<string>();
  for (const route of routes) {
    const values = matchPathTemplate(route.path, path);
    if (values === undefined) continue;
    pathMatched = true;
    allowed.add(route.httpMethod);
    if (route.httpMethod === method || (method === "HEAD" && route.httpMethod === "GET")) return { route, values };
  }
  if (pathMatched) {
    throw new GatewayError(405, METHOD_NOT_ALLOWED_MESSAGE, undefined, { allow: [...allowed].join(", ") });
  }
  throw new GatewayError(404, NOT_FOUND_MESSAGE);
}

/**
 * What the caller reads for a failed call: the service's own message, except where it may carry
 * internal detail (addresses in a connection failure, a crash's text).
 */
function clientMessage(error: ClientError): string {
  switch (error.code) {
    case grpcStatus.INTERNAL:
    case grpcStatus.UNKNOWN:
    case grpcStatus.DATA_LOSS:
      return INTERNAL_MESSAGE;
    case grpcStatus.UNAVAILABLE:
      return UNAVAILABLE_MESSAGE;
    case grpcStatus.DEADLINE_EXCEEDED:
      return DEADLINE_MESSAGE;
    default:
      return error.details;
  }
}

/** Catalogue reads anyone may make: cacheable by shared caches when no token came with them. */
function isCatalogueRead(route: Route): boolean {
  return route.httpMethod === "GET" && route.rule?.anonymous === true;
}

/**
 * Builds the gateway: `/v1/...` transcoded to gRPC by the protos' google.api.http rules,
 * `POST /oauth/token`, `/openapi.json`, Swagger UI at `/docs`, `/healthz`.
 *
 * Order, fixed here: request id, metrics, CORS, compression, authentication (a token's subject
 * keys the rate limit), rate limits, then the routes.
 */
export async function createGateway(options: GatewayOptions) {
  const { config, descriptors, backends, authenticator } = options;
  const statusJson = createStatusJson(descriptors.registry);
  const loggerInstance: FastifyBaseLogger = options.logger;
  const app = fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: "idle",
    trustProxy: config.trustProxy === 0 ? false : (_address: string, hop: number) => hop < config.trustProxy,
    bodyLimit: config.bodyLimitBytes,
    genReqId: (request) => {
      const given = request.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    routerOptions: { ignoreTrailingSlash: false },
  });

  const sendStatus = (reply: FastifyReply, httpStatus: number, body: StatusJson) =>
    reply.code(httpStatus).header("cache-control", "no-store").type("application/json").send(body);

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof GatewayError) {
      for (const [k, v] of Object.entries(error.headers)) reply.header(k, v);
      return sendStatus(reply, error.httpStatus, statusJson.ofGatewayError(error));
    }
    if (error instanceof ClientError) {
      const httpStatus = HTTP_STATUS[error.code] ?? 500;
      // A downstream failure that is not the service's own answer gets no internal text.
      const message = clientMessage(error);
      if (httpStatus >= 500) request.log.warn({ err: error }, "backend call failed");
      return sendStatus(reply, httpStatus, statusJson.ofGrpcError(error.code, message, statusTrailer(error.metadata)));
    }
    const code = (error as { statusCode?: unknown }).statusCode;
    const httpStatus = typeof code === "number" && code >= 400 && code < 600 ? code : 500;
    if (httpStatus >= 500) {
      request.log.error({ err: error }, "request failed");
      return sendStatus(reply, 500, statusJson.ofGatewayError(new GatewayError(500, INTERNAL_MESSAGE)));
    }
    const fastifyCode = (error as { code?: unknown }).code;
    const message =
      httpStatus === 413
        ? BODY_TOO_LARGE
        : httpStatus === 415
          ? UNSUPPORTED_MEDIA_TYPE
          : httpStatus === 429
            ? RATE_LIMITED
            : fastifyCode === "FST_ERR_CTP_EMPTY_JSON_BODY"
              ? MALFORMED_JSON
              : (error as Error).message;
    return sendStatus(reply, httpStatus, statusJson.ofGatewayError(new GatewayError(httpStatus, message)));
  });
  app.setNotFoundHandler((_request, reply) =>
    sendStatus(reply, 404, statusJson.ofGatewayError(new GatewayError(404, NOT_FOUND_MESSAGE))),
  );

  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    done();
  });
  if (options.metrics !== undefined) await app.register(options.metrics.httpPlugin);
  await app.register(cors, {
    origin: [...config.corsOrigins],
    methods: ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"],
    allowedHeaders: [
      "authorization",
      "content-type",
      "grpc-timeout",
      "x-timeout",
      "x-request-id",
      "traceparent",
      "if-none-match",
    ],
    exposedHeaders: [
      "etag",
      "retry-after",
      "x-request-id",
      "x-ratelimit-limit",
      "x-ratelimit-remaining",
      "x-ratelimit-reset",
    ],
    maxAge: 600,
  });
  await app.register(compress, { global: true, encodings: ["br", "gzip"], threshold: 1024 });

  app.removeContentTypeParser(["application/json"]);
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    request.jsonText = body as string;
    done(null, undefined);
  });
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) => {
    done(null, new URLSearchParams(body as string));
  });

  // Authentication before the rate limit, which counts per token subject.
  app.addHook("onRequest", async (request) => {
    if (!request.url.startsWith("/v1/")) return;
    request.principal = await authenticator.verify(request.headers.authorization);
  });
  await app.register(rateLimit, {
    global: true,
    timeWindow: config.rateWindowMs,
    max: (request) => (request.principal === undefined ? config.anonymousRateLimit : config.rateLimit),
    keyGenerator: (request) =>
      request.principal === undefined ? `ip:${request.ip}` : `sub:${request.principal.subject}`,
    allowList: (request) => request.url === "/healthz",
    errorResponseBuilder: (_request, context) => ({ statusCode: 429, message: RATE_LIMITED, limit: context.max }),
  });

  // The document was generated from the protos at build time (scripts/generate-openapi.ts).
  await app.register(swagger, { mode: "static", specification: { document: options.openApi as never } });
  await app.register(swaggerUi, {
    routePrefix: "/docs",
    uiConfig: { url: "/openapi.json", deepLinking: true, tryItOutEnabled: false },
    staticCSP: true,
  });
  app.get("/openapi.json", async (_request, reply) =>
    reply.header("cache-control", "public, max-age=300").send(options.openApi),
  );
  app.get("/healthz", async () => ({ status: "ok" }));

  app.post(
    "/oauth/token",
    {
      config: {
        rateLimit: {
          max: config.tokenRateLimit,
          keyGenerator: (request: FastifyRequest) =>
            `token:${basicCredentials(request.headers.authorization)?.id ?? request.ip}`,
        },
      },
    },
    createTokenHandler(backends),
  );

  const transcode = async (request: FastifyRequest, reply: FastifyReply) => {
    const queryAt = request.url.indexOf("?");
    const path = queryAt === -1 ? request.url : request.url.slice(0, queryAt);
    const query = new URLSearchParams(queryAt === -1 ? "" : request.url.slice(queryAt + 1));
    const { route, values } = findRoute(descriptors.routes, request.method, path);
    authenticator.authorize(route, request.principal);
    const requested = requestedTimeoutMs(request, route.streaming ? config.maxStreamMs : config.maxTimeoutMs);

    let body: unknown;
    if (request.jsonText !== undefined && request.jsonText.trim() !== "") {
      try {
        body = JSON.parse(request.jsonText);
      } catch (error) {
        throw new GatewayError(400, `${MALFORMED_JSON}: ${(error as Error).message}`, "*");
      }
    }
    const bytes = encodeRequest(route, descriptors.registry, { pathValues: values, query, body });

    const metadata: Record<string, string> = { "x-request-id": request.id };
    const authorization = request.headers.authorization;
    if (typeof authorization === "string" && request.principal !== undefined) metadata.authorization = authorization;
    const traceparent = request.headers.traceparent;
    if (typeof traceparent === "string" && TRACEPARENT.test(traceparent)) {
      metadata.traceparent = traceparent;
      const tracestate = request.headers.tracestate;
      if (typeof tracestate === "string" && tracestate.length <= 512) metadata.tracestate = tracestate;
    }

    // Abort the call when the client goes away before the answer.
    const controller = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) controller.abort();
    };
    reply.raw.once("close", onClose);

    if (route.streaming) {
      return serveEvents(route, bytes, {
        timeoutMs: requested ?? config.maxStreamMs,
        metadata,
        signal: controller.signal,
      });
    }
    let response: Buffer;
    try {
      response = await backends.unary(route, bytes, {
        timeoutMs: requested ?? Math.min(config.defaultTimeoutMs, config.maxTimeoutMs),
        metadata,
        signal: controller.signal,
      });
    } finally {
      reply.raw.removeListener("close", onClose);
    }

    if (route.httpBody) {
      const { contentType, data } = decodeHttpBody(route, response);
      reply.type(contentType);
      return sendCacheable(request, reply, route, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    }
    const text = JSON.stringify(decodeResponse(route, descriptors.registry, response));
    reply.type("application/json; charset=utf-8");
    return sendCacheable(request, reply, route, text);

    function serveEvents(streamRoute: Route, streamBytes: Uint8Array, callOptions: Parameters<Backends["stream"]>[2]) {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      raw.write(": stream open\n\n");
      const heartbeat = setInterval(() => raw.write(": keep-alive\n\n"), 15_000);
      void (async () => {
        try {
          for await (const message of backends.stream(streamRoute, streamBytes, callOptions)) {
            const json = decodeResponse(streamRoute, descriptors.registry, message);
            raw.write(`event: message\ndata: ${JSON.stringify(json)}\n\n`);
          }
          raw.write("event: end\ndata: {}\n\n");
        } catch (error) {
          if (!controller.signal.aborted) {
            const status =
              error instanceof ClientError
                ? statusJson.ofGrpcError(error.code, clientMessage(error), statusTrailer(error.metadata))
                : statusJson.ofGatewayError(new GatewayError(500, INTERNAL_MESSAGE));
            if (!(error instanceof ClientError)) request.log.error({ err: error }, "event stream failed");
            raw.write(`event: error\ndata: ${JSON.stringify(status)}\n\n`);
          }
        } finally {
          clearInterval(heartbeat);
          reply.raw.removeListener("close", onClose);
          raw.end();
        }
      })();
      return reply;
    }
  };

  function sendCacheable(request: FastifyRequest, reply: FastifyReply, route: Route, payload: string | Buffer) {
    if (route.httpMethod !== "GET") return reply.header("cache-control", "no-store").send(payload);
    // Weak: the same representation may travel gzip-, brotli- or un-encoded.
    const etag = `W/"${createHash("sha1").update(payload).digest("base64url")}"`;
    const anonymous = request.principal === undefined;
    reply
      .header("etag", etag)
      .header("vary", "authorization")
      .header(
        "cache-control",
        isCatalogueRead(route)
          ? `${anonymous ? "public" : "private"}, max-age=${config.catalogMaxAgeSeconds}`
          : "private, no-cache",
      );
    const inm = request.headers["if-none-match"];
    if (typeof inm === "string" && inm.split(",").some((tag) => tag.trim() === etag || `W/${tag.trim()}` === etag)) {
      return reply.code(304).send();
    }
    return reply.send(payload);
  }

  app.route({ method: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"], url: "/v1/*", handler: transcode });
  return app;
}

/** The gateway app type. */
export type Gateway = Awaited<ReturnType<typeof createGateway>>;
