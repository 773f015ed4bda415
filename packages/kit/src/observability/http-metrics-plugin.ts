import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { Histogram, type Registry } from "prom-client";

/** OpenTelemetry semantic-convention buckets for `http.server.request.duration`, in seconds. */
export const HTTP_SERVER_DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/** `http_route` for requests no route matched (404s): raw URLs never become label values. */
export const UNMATCHED_ROUTE = "unmatched";

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);

/** The semconv `http.request.method` value: a known method, else `_OTHER` (bounded cardinality). */
export function httpMethodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : "_OTHER";
}

/** The route template that matched `request` (e.g. `/books/:id`), or {@link UNMATCHED_ROUTE}. */
export function httpRouteLabel(request: FastifyRequest): string {
  // routeOptions.url is the template as registered; it is undefined when the 404 handler runs.
  return request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE);
}

type HttpLabels = "http_request_method" | "http_route" | "http_response_status_code";

/**
 * Creates a fastify plugin recording `http_server_request_duration_seconds` (histogram, OTel
 * semconv buckets) labelled `http_request_method`, `http_route` (the route template, never the
 * raw URL) and `http_response_status_code` on `registry`. Register it on the root instance; it
 * is wrapped with fastify-plugin so it sees every route.
 */
export function createHttpMetricsPlugin(registry: Registry): FastifyPluginCallback {
  const duration = new Histogram<HttpLabels>({
    name: "http_server_request_duration_seconds",
    help: "Duration of HTTP server requests.",
    labelNames: ["http_request_method", "http_route", "http_response_status_code"],
    buckets: [...HTTP_SERVER_DURATION_BUCKETS],
    registers: [registry],
  });
  const children = new Map<string, Histogram.Internal<HttpLabels>>();
  const plugin: FastifyPluginCallback = (app, _options, done) => {
    app.addHook("onResponse", (request, reply, hookDone) => {
      const method = httpMethodLabel(request.method);
      const route = httpRouteLabel(request);
      const code = reply.statusCode;
      const key = `${method} ${code} ${route}`;
      let child = children.get(key);
      if (child === undefined) {
        child = duration.labels(method, route, String(code));
        children.set(key, child);
      }
      // reply.elapsedTime is fastify's own high-resolution timer from the start of the request, in ms.
      child.observe(reply.elapsedTime / 1000);
      hookDone();
    });
    done();
  };
  return fp(plugin, { name: "obfy-http-metrics", fastify: "5.x" });
}
