import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import type { FastifyPluginCallback, FastifyRequest, RouteHandlerMethod } from "fastify";
import fp from "fastify-plugin";
import { httpMethodLabel, httpRouteLabel, UNMATCHED_ROUTE } from "./http-metrics-plugin.js";
import { httpHeadersGetter } from "./internal/otel-carriers.js";
import { isQuiet, quietChildContext } from "./internal/quiet-tracing.js";
import { KIT_TRACER_NAME } from "./tracing.js";

// Stable semantic-convention attribute names. Each is typed as the library's constant, whose type
// is its literal value, so the compiler checks them against @opentelemetry/semantic-conventions
// without the package being loaded (its index costs ~10 ms and ~1.5 MB of start-up).
type SemConv = typeof import("@opentelemetry/semantic-conventions");
const ATTR_HTTP_REQUEST_METHOD: SemConv["ATTR_HTTP_REQUEST_METHOD"] = "http.request.method";
const ATTR_HTTP_RESPONSE_STATUS_CODE: SemConv["ATTR_HTTP_RESPONSE_STATUS_CODE"] = "http.response.status_code";
const ATTR_HTTP_ROUTE: SemConv["ATTR_HTTP_ROUTE"] = "http.route";
const ATTR_URL_PATH: SemConv["ATTR_URL_PATH"] = "url.path";
const ATTR_URL_SCHEME: SemConv["ATTR_URL_SCHEME"] = "url.scheme";

/** Options for {@link createHttpTracingPlugin}. */
export interface HttpTracingPluginOptions {
  /** Where spans come from; default the global provider. Pass `setupTracing(...).provider`. */
  tracerProvider?: TracerProvider;
}

/**
 * Creates a fastify plugin that traces every request: `onRequest` extracts `traceparent` from
 * the HTTP headers and starts a SERVER span (`GET /books/:id`, with `http.request.method`,
 * `http.route`, `url.path`, `http.response.status_code`; 5xx are errors), `onResponse` ends it.
 * Route handlers run inside the span's context (each handler is wrapped as it is registered),
 * so gRPC calls they make are children of the request span and carry the same trace id.
 *
 * Register it on the root instance BEFORE declaring routes (it wraps handlers in `onRoute`).
 *
 * With a provider that exports nothing, no span is built: handlers run in a context with the
 * ids such a span would have had (the caller's trace with a new span id, else a new unsampled
 * trace), so the request's log lines and its outgoing calls are still tied together.
 */
export function createHttpTracingPlugin(options: HttpTracingPluginOptions = {}): FastifyPluginCallback {
  const provider = options.tracerProvider ?? trace.getTracerProvider();
  const quiet = isQuiet(provider);
  const tracer = provider.getTracer(KIT_TRACER_NAME);
  // Each request's context, and its span unless quiet.
  const contexts = new WeakMap<FastifyRequest, Context>();
  const spans = new WeakMap<FastifyRequest, Span>();

  const end = (request: FastifyRequest, statusCode: number | undefined): void => {
    const span = spans.get(request);
    if (span === undefined) return;
    spans.delete(request);
    // The route is known only after routing, which happens after onRequest for 404s.
    const route = httpRouteLabel(request);
    if (route !== UNMATCHED_ROUTE) {
      span.setAttribute(ATTR_HTTP_ROUTE, route);
      span.updateName(`${httpMethodLabel(request.method)} ${route}`);
    }
    if (statusCode !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
    if (statusCode === undefined || statusCode >= 500) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        ...(statusCode === undefined ? { message: "request aborted" } : {}),
      });
    }
    span.end();
  };

  const plugin: FastifyPluginCallback = (app, _options, done) => {
    app.addHook("onRoute", (route) => {
      const handler = route.handler;
      const traced: RouteHandlerMethod = function (this: typeof app, request, reply) {
        const current = contexts.get(request);
        if (current === undefined) return handler.call(this, request, reply);
        return context.with(current, handler, this, request, reply);
      };
      route.handler = traced;
    });
    app.addHook("onRequest", (request, _reply, hookDone) => {
      // Most page views carry no trace context: skip the propagator then.
      const parent =
        request.headers.traceparent === undefined
          ? ROOT_CONTEXT
          : propagation.extract(ROOT_CONTEXT, request.headers, httpHeadersGetter);
      if (quiet) {
        contexts.set(request, quietChildContext(parent, trace.getSpanContext(parent)));
      } else {
        const method = httpMethodLabel(request.method);
        const route = request.routeOptions.url;
        const span = tracer.startSpan(
          route === undefined ? method : `${method} ${route}`,
          {
            kind: SpanKind.SERVER,
            attributes: {
              [ATTR_HTTP_REQUEST_METHOD]: method,
              [ATTR_URL_PATH]: request.url.split("?", 1)[0],
              [ATTR_URL_SCHEME]: request.protocol,
            },
          },
          parent,
        );
        spans.set(request, span);
        contexts.set(request, trace.setSpan(parent, span));
      }
      hookDone();
    });
    if (!quiet) {
      app.addHook("onError", (request, _reply, error, hookDone) => {
        spans.get(request)?.recordException(error);
        hookDone();
      });
      app.addHook("onResponse", (request, reply, hookDone) => {
        end(request, reply.statusCode);
        hookDone();
      });
      app.addHook("onRequestAbort", (request, hookDone) => {
        end(request, undefined);
        hookDone();
      });
    }
    done();
  };
  return fp(plugin, { name: "obfy-http-tracing", fastify: "5.x" });
}
