import { readFileSync } from "node:fs";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { descriptorSetPath } from "@obfy/protos";
import { methodInfo } from "../../internal/method-info.js";
import { DEFAULT_RETRY, type RetryOptions, type RetryThrottlingOptions } from "../client-options.js";

const SAFE_TO_REPEAT = new Set([
  MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
  MethodOptions_IdempotencyLevel.IDEMPOTENT,
]);

let idempotentPaths: ReadonlySet<string> | undefined;

/**
 * Paths (`/pkg.Service/Method`) of every method in `@obfy/protos` declared
 * `option idempotency_level = NO_SIDE_EFFECTS` or `IDEMPOTENT`: the methods that may be retried
 * after the server has seen them. Read once from the module's FileDescriptorSet.
 */
export function idempotentMethodPaths(): ReadonlySet<string> {
  if (idempotentPaths !== undefined) return idempotentPaths;
  let bytes: Buffer;
  try {
    bytes = readFileSync(descriptorSetPath);
  } catch (error) {
    throw new Error(
      `Cannot read the proto descriptor set at ${descriptorSetPath}; run "npm run build" in packages/protos`,
      {
        cause: error,
      },
    );
  }
  const paths = new Set<string>();
  for (const file of fromBinary(FileDescriptorSetSchema, bytes).file) {
    const prefix = file.package === "" ? "" : `${file.package}.`;
    for (const service of file.service) {
      for (const method of service.method) {
        const level = method.options?.idempotencyLevel;
        if (level !== undefined && SAFE_TO_REPEAT.has(level)) paths.add(`/${prefix}${service.name}/${method.name}`);
      }
    }
  }
  idempotentPaths = paths;
  return paths;
}

/** Formats milliseconds as a service-config duration ("0.100s"). */
function duration(ms: number): string {
  return `${(ms / 1000).toFixed(3)}s`;
}

function checkRetry(retry: Required<RetryOptions>): void {
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 2 || retry.maxAttempts > 5) {
    throw new RangeError(`retry.maxAttempts must be an integer from 2 to 5, got ${retry.maxAttempts}`);
  }
  for (const key of ["initialBackoffMs", "maxBackoffMs"] as const) {
    if (!Number.isFinite(retry[key]) || retry[key] < 1) {
      throw new RangeError(`retry.${key} must be a number of milliseconds >= 1, got ${retry[key]}`);
    }
  }
  if (retry.maxBackoffMs < retry.initialBackoffMs) {
    throw new RangeError("retry.maxBackoffMs must be >= retry.initialBackoffMs");
  }
  if (!Number.isFinite(retry.backoffMultiplier) || retry.backoffMultiplier <= 0) {
    throw new RangeError(`retry.backoffMultiplier must be > 0, got ${retry.backoffMultiplier}`);
  }
}

/** Inputs of {@link buildServiceConfig}. */
export interface ServiceConfigInput {
  /** Paths of the methods to retry on UNAVAILABLE. */
  readonly retryablePaths: Iterable<string>;
  /** Retry policy, or `false` for no retries at all. */
  readonly retry: RetryOptions | false;
  /** Throttling, or `false` for none. */
  readonly retryThrottling: RetryThrottlingOptions | false;
  /** Load-balancing policy name. */
  readonly loadBalancing: "round_robin" | "pick_first";
}

/**
 * Builds the grpc service config (JSON) a channel is created with. Retries are declared here,
 * per method, rather than hand-written around calls: grpc-js then knows which attempts never left
 * the client (always retried transparently), never retries once response headers arrived (the
 * server has committed), shares one deadline across attempts and applies the throttle.
 */
export function buildServiceConfig(input: ServiceConfigInput): string {
  const config: Record<string, unknown> = { loadBalancingConfig: [{ [input.loadBalancing]: {} }] };
  const names = [...new Set(input.retryablePaths)].sort().map((path) => {
    const { service, name } = methodInfo({ path, requestStream: false, responseStream: false });
    return { service, method: name };
  });
  if (input.retry !== false && names.length > 0) {
    const retry = { ...DEFAULT_RETRY, ...input.retry };
    checkRetry(retry);
    config.methodConfig = [
      {
        name: names,
        retryPolicy: {
          maxAttempts: retry.maxAttempts,
          initialBackoff: duration(retry.initialBackoffMs),
          maxBackoff: duration(retry.maxBackoffMs),
          backoffMultiplier: retry.backoffMultiplier,
          // UNAVAILABLE only: it means "not processed, try elsewhere/later". DEADLINE_EXCEEDED
          // would spend the caller's budget twice; other codes are answers, not transient faults.
          retryableStatusCodes: ["UNAVAILABLE"],
        },
      },
    ];
  }
  if (input.retry !== false && input.retryThrottling !== false) {
    const { maxTokens, tokenRatio } = input.retryThrottling;
    if (!(maxTokens > 0 && maxTokens <= 1000) || !(tokenRatio > 0)) {
      throw new RangeError("retryThrottling needs 0 < maxTokens <= 1000 and tokenRatio > 0");
    }
    config.retryThrottling = { maxTokens, tokenRatio };
  }
  return JSON.stringify(config);
}
