import { readFileSync } from "node:fs";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { descriptorSetPath } from "@obfy/protos";
import { parseMethodPath } from "../server/service.js";

/**
 * Retry policy for methods that are safe to retry (gRFC A6, implemented by grpc-js). Backoff
 * before attempt n+1 is `min(initialBackoffMs * backoffMultiplier^(n-1), maxBackoffMs)` with
 * ±20% jitter.
 */
export interface RetryOptions {
  /** Total attempts including the first; 2..5 (grpc-js caps it at 5). Default 4. */
  maxAttempts?: number;
  /** Backoff before the first retry. Default 100 ms. */
  initialBackoffMs?: number;
  /** Upper bound on one backoff. Default 1000 ms. */
  maxBackoffMs?: number;
  /** Growth factor between backoffs. Default 2. */
  backoffMultiplier?: number;
}

/**
 * Retry throttling (gRFC A6): a token bucket per target. Each failed attempt costs 1 token, each
 * success earns `tokenRatio`; retries stop while tokens are at or below `maxTokens / 2`.
 */
export interface RetryThrottlingOptions {
  /** Bucket size, 1..1000. Default 10. */
  maxTokens: number;
  /** Tokens earned per successful call, > 0 (three decimals at most). Default 0.1. */
  tokenRatio: number;
}

/** Resolved defaults of {@link RetryOptions}. */
export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = {
  maxAttempts: 4,
  initialBackoffMs: 100,
  maxBackoffMs: 1000,
  backoffMultiplier: 2,
};

/**
 * Default throttle. Each failed attempt costs a token, each successful call earns 0.1, and retries
 * go out only while more than half of the 100 tokens are left. The bucket must be larger than twice
 * the number of calls that can fail at once: when a replica is killed, every call in flight on its
 * connection fails together, and grpc-js checks the throttle when each retry's backoff ends, after
 * all of those failures were counted (the multi-host test saw 4 to 8 such calls per connection;
 * with 10 tokens their retries were all refused and shoppers saw errors). A target that fails
 * everything still stops getting retries after about 50 failed attempts, so retries cannot
 * multiply the load on a struggling server for long, and they resume as calls succeed again.
 */
export const DEFAULT_RETRY_THROTTLING: Readonly<RetryThrottlingOptions> = { maxTokens: 100, tokenRatio: 0.1 };

// google.protobuf.MethodOptions.IdempotencyLevel values.
const NO_SIDE_EFFECTS = 1;
const IDEMPOTENT = 2;

interface DescribedFile {
  package: string;
  services: { name: string; methods: { name: string; idempotencyLevel: number }[] }[];
}

/**
 * The few fields of a FileDescriptorSet this module needs (file.package, file.service.name,
 * service.method.name, method.options.idempotency_level), read with the wire reader the generated
 * code loads anyway. Decoding it with `@bufbuild/protobuf`'s descriptor schemas instead costs
 * every client process ~70 ms and ~5 MB at start-up just to load them.
 */
function readFileDescriptorSet(bytes: Uint8Array): DescribedFile[] {
  // Calls `onField(fieldNo, wireType)` for each field of the message in `reader` up to `end`;
  // fields it does not consume (returns false) are skipped.
  const fields = (reader: BinaryReader, end: number, onField: (no: number, type: WireType) => boolean): void => {
    while (reader.pos < end) {
      const [no, type] = reader.tag();
      if (!onField(no, type)) reader.skip(type, no);
    }
  };
  const files: DescribedFile[] = [];
  const reader = new BinaryReader(bytes);
  fields(reader, bytes.length, (no, type) => {
    if (no !== 1 || type !== WireType.LengthDelimited) return false;
    const file: DescribedFile = { package: "", services: [] };
    fields(reader, reader.uint32() + reader.pos, (no, type) => {
      if (no === 2 && type === WireType.LengthDelimited) file.package = reader.string();
      else if (no === 6 && type === WireType.LengthDelimited) {
        const service: DescribedFile["services"][number] = { name: "", methods: [] };
        fields(reader, reader.uint32() + reader.pos, (no, type) => {
          if (no === 1 && type === WireType.LengthDelimited) service.name = reader.string();
          else if (no === 2 && type === WireType.LengthDelimited) {
            const method = { name: "", idempotencyLevel: 0 };
            fields(reader, reader.uint32() + reader.pos, (no, type) => {
              if (no === 1 && type === WireType.LengthDelimited) method.name = reader.string();
              else if (no === 4 && type === WireType.LengthDelimited) {
                fields(reader, reader.uint32() + reader.pos, (no, type) => {
                  if (no !== 34 || type !== WireType.Varint) return false;
                  method.idempotencyLevel = reader.int32();
                  return true;
                });
              } else return false;
              return true;
            });
            service.methods.push(method);
          } else return false;
          return true;
        });
        file.services.push(service);
      } else return false;
      return true;
    });
    files.push(file);
    return true;
  });
  return files;
}

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
  for (const file of readFileDescriptorSet(bytes)) {
    const prefix = file.package === "" ? "" : `${file.package}.`;
    for (const service of file.services) {
      for (const method of service.methods) {
        if (method.idempotencyLevel === NO_SIDE_EFFECTS || method.idempotencyLevel === IDEMPOTENT) {
          paths.add(`/${prefix}${service.name}/${method.name}`);
        }
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
    const { service, name } = parseMethodPath(path);
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
