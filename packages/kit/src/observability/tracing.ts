import { context, propagation, type TracerProvider, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

/** The instrumentation scope name of every span the kit creates. */
export const KIT_TRACER_NAME = "@obfy/kit";

/** Options for {@link setupTracing}. */
export interface SetupTracingOptions {
  /** `service.name` of the spans; `OTEL_SERVICE_NAME` wins when set. */
  serviceName: string;
  /**
   * Export spans here through a SimpleSpanProcessor (one export per span: meant for tests with
   * an `InMemorySpanExporter`). Without it, spans go to OTLP only when
   * `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set.
   */
  exporter?: SpanExporter;
  /** Environment to read `OTEL_*` from; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** What {@link setupTracing} set up. */
export interface Tracing {
  /** The provider; pass it as `tracerProvider` to the kit's tracing interceptors and plugin. */
  readonly provider: TracerProvider;
  /** Whether spans are exported anywhere. */
  readonly exporting: boolean;
  /** The `service.name` in use. */
  readonly serviceName: string;
  /** Exports what is buffered. */
  forceFlush(): Promise<void>;
  /** Flushes, shuts the provider down and unregisters the globals this call registered. */
  shutdown(): Promise<void>;
}

/**
 * Sets up OpenTelemetry tracing for a service: a NodeTracerProvider with `service.name`, an
 * AsyncLocalStorage context manager and the W3C TraceContext propagator, registered as the
 * process globals (when nothing registered them before: a second call in the same process, as
 * in a test with two services, keeps the first globals and only builds a provider).
 *
 * Export:
 * - `options.exporter` → SimpleSpanProcessor (tests);
 * - else `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set → OTLP over
 *   HTTP/protobuf through a BatchSpanProcessor (the exporter reads the other `OTEL_EXPORTER_OTLP_*`
 *   variables itself);
 * - else nothing is exported and nothing is recorded that could be: no span processors, and a
 *   sampler that starts no new traces but honours a sampled `traceparent` from upstream, so
 *   trace ids still reach the logs and downstream services at the lowest cost.
 */
export function setupTracing(options: SetupTracingOptions): Tracing {
  const env = options.env ?? process.env;
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || options.serviceName;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const spanProcessors: SpanProcessor[] = [];
  if (options.exporter) spanProcessors.push(new SimpleSpanProcessor(options.exporter));
  else if (endpoint) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  const exporting = spanProcessors.length > 0;
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName })),
    spanProcessors,
    ...(exporting ? {} : { sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }) }),
  });

  const contextManager = new AsyncLocalStorageContextManager();
  const ownsContext = context.setGlobalContextManager(contextManager.enable());
  if (!ownsContext) contextManager.disable();
  const ownsPropagator = propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const ownsProvider = trace.setGlobalTracerProvider(provider);

  let stopping: Promise<void> | undefined;
  return {
    provider,
    exporting,
    serviceName,
    forceFlush: () => provider.forceFlush(),
    shutdown() {
      stopping ??= provider.shutdown().finally(() => {
        if (ownsProvider) trace.disable();
        if (ownsPropagator) propagation.disable();
        if (ownsContext) context.disable();
      });
      return stopping;
    },
  };
}
