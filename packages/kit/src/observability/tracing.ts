import { createRequire } from "node:module";
import { context, propagation, type TracerProvider, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { type ExportResult, ExportResultCode, W3CTraceContextPropagator } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-node";
import { QuietTracerProvider } from "./internal/quiet-tracing.js";

// The OpenTelemetry SDK (sdk-trace-node/base, resources, semantic conventions) is required only
// by a service that exports spans: a quiet one gets a QuietTracerProvider built on the API, and
// saves ~40 ms of start-up and ~4 MB. These packages are CommonJS, so a synchronous require keeps
// setupTracing synchronous.
const require = createRequire(import.meta.url);
type SdkTraceNode = typeof import("@opentelemetry/sdk-trace-node");
type Resources = typeof import("@opentelemetry/resources");
type SemanticConventions = typeof import("@opentelemetry/semantic-conventions");

/** What setupTracing's providers offer besides getTracer. */
type FlushableTracerProvider = TracerProvider & { forceFlush(): Promise<void>; shutdown(): Promise<void> };

/**
 * A NodeTracerProvider for `serviceName` sending every span to `exporter` (SimpleSpanProcessor,
 * for tests) or, without one, in batches to OTLP at `endpoint`.
 */
function createSdkProvider(
  serviceName: string,
  exporter: SpanExporter | undefined,
  endpoint: string,
): FlushableTracerProvider {
  const { BatchSpanProcessor, NodeTracerProvider, SimpleSpanProcessor } =
    require("@opentelemetry/sdk-trace-node") as SdkTraceNode;
  const { defaultResource, resourceFromAttributes } = require("@opentelemetry/resources") as Resources;
  const { ATTR_SERVICE_NAME } = require("@opentelemetry/semantic-conventions") as SemanticConventions;
  return new NodeTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName })),
    spanProcessors: [
      exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(new LazyOtlpExporter(endpoint)),
    ],
  });
}

/** The instrumentation scope name of every span the kit creates. */
export const KIT_TRACER_NAME = "@obfy/kit";

/**
 * The OTLP exporter, loaded on first need: its protobuf and HTTP stack cost ~17 MB of memory and
 * start-up time that a service without `OTEL_EXPORTER_OTLP_ENDPOINT` never pays. Loading starts at
 * once; spans batched before it finishes wait for it.
 */
class LazyOtlpExporter implements SpanExporter {
  readonly #exporter: Promise<SpanExporter>;

  constructor(url: string) {
    this.#exporter = import("@opentelemetry/exporter-trace-otlp-proto").then(
      ({ OTLPTraceExporter }) => new OTLPTraceExporter({ url }),
    );
    // A failed load is reported through export(); never as an unhandled rejection.
    this.#exporter.catch(() => {});
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.#exporter.then(
      (exporter) => exporter.export(spans, resultCallback),
      (error: unknown) =>
        resultCallback({
          code: ExportResultCode.FAILED,
          error: error instanceof Error ? error : new Error(String(error)),
        }),
    );
  }

  async shutdown(): Promise<void> {
    const exporter = await this.#exporter.catch(() => undefined);
    await exporter?.shutdown();
  }

  async forceFlush(): Promise<void> {
    const exporter = await this.#exporter.catch(() => undefined);
    await exporter?.forceFlush?.();
  }
}

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
 *   HTTP/protobuf through a BatchSpanProcessor (the URL from `env`; the exporter reads the other
 *   `OTEL_EXPORTER_OTLP_*` variables, headers, timeout, from `process.env` itself). The exporter module is imported only then, in the background: this
 *   function stays synchronous, and spans ended before the import finishes are exported after it;
 * - else nothing is exported and nothing is recorded that could be: a {@link QuietTracerProvider}
 *   (no SDK loaded) whose spans are non-recording, start no new sampled traces and keep a sampled
 *   `traceparent` from upstream sampled. The
 *   kit's tracing interceptors and plugin see such a provider and skip span work: a gRPC server
 *   call without a sampled `traceparent` runs untouched; with one, its trace continues (ids in
 *   the logs, `traceparent` on outgoing calls) without a span being built.
 */
export function setupTracing(options: SetupTracingOptions): Tracing {
  const env = options.env ?? process.env;
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || options.serviceName;
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const baseEndpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  // As the OTLP spec reads them: the traces endpoint as is, else the base one + /v1/traces.
  const endpoint = tracesEndpoint || (baseEndpoint ? `${baseEndpoint.replace(/\/+$/, "")}/v1/traces` : undefined);
  const exporting = options.exporter !== undefined || endpoint !== undefined;
  const provider: FlushableTracerProvider = exporting
    ? createSdkProvider(serviceName, options.exporter, endpoint ?? "")
    : new QuietTracerProvider();

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
