import {
  InterceptingCall,
  type InterceptingListener,
  type Interceptor,
  type InterceptorOptions,
  type Metadata,
  type NextCall,
  type StatusObject,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "../logger.js";
import { REQUEST_ID_HEADER } from "../server/method-handler.js";
import type { GenericServiceDefinition } from "../server/service.js";
import type { RetryOptions } from "./service-config.js";

/**
 * The budget of {@link createReissueInterceptor}: a token bucket per client. It starts full; each
 * re-issue spends one token, each call that ends OK earns `tokenRatio` (up to `maxTokens`), and a
 * call is re-issued only while a whole token is left. So at most `maxTokens` calls are re-issued
 * in a burst, and after that at most `tokenRatio` re-issues go out per successful call: a backend
 * that drops every call after its headers adds about 10% load by default, never double.
 */
export interface ReissueOptions {
  /** Bucket size and burst, >= 1. Default 20. */
  maxTokens?: number;
  /** Tokens earned per call that ends OK, > 0. Default 0.1. */
  tokenRatio?: number;
}

/** Resolved defaults of {@link ReissueOptions}. */
export const DEFAULT_REISSUE: Readonly<Required<ReissueOptions>> = { maxTokens: 20, tokenRatio: 0.1 };

/** Options of {@link createReissueInterceptor}. */
export interface ReissueInterceptorOptions extends ReissueOptions {
  /**
   * Paths (`/pkg.Service/Method`) of the methods that are safe to run twice (proto
   * `idempotency_level` NO_SIDE_EFFECTS or IDEMPOTENT). Only their unary calls are re-issued.
   */
  methods: Iterable<string>;
  /** Gets an `info` line per re-issue and a `debug` line per re-issue the budget refused. */
  logger?: Logger;
  /** The channel target, logged to tell upstreams apart. */
  target?: string;
}

type MessageContext = Parameters<InterceptingCall["sendMessageWithContext"]>[0];

/** The token bucket of {@link ReissueOptions}, shared by every call of one interceptor. */
class ReissueBudget {
  private tokens: number;

  constructor(
    private readonly maxTokens: number,
    private readonly tokenRatio: number,
  ) {
    this.tokens = maxTokens;
  }

  take(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  earn(): void {
    if (this.tokens < this.maxTokens) this.tokens = Math.min(this.maxTokens, this.tokens + this.tokenRatio);
  }
}

/** What every call of one interceptor shares. */
interface ReissueShared {
  readonly budget: ReissueBudget;
  readonly logger: Logger | undefined;
  readonly target: string | undefined;
}

/**
 * One unary call that may be re-issued once. It is its own listener for the attempts below it and
 * holds back their response headers and message until the status: a unary response reaches the
 * application only with OK, so a failed attempt has delivered nothing and can be repeated. It
 * implements the whole call interface itself rather than through requester/listener objects,
 * which keeps the per-call cost to this one object (the Marketplace makes such a call per page).
 */
class ReissuingCall extends InterceptingCall {
  private attempt: ReturnType<NextCall>;
  private outer: Partial<InterceptingListener> | undefined;
  private sentMetadata: Metadata | undefined;
  private sentContext: MessageContext | undefined;
  private sentMessage: unknown;
  private halfClosed = false;
  private headers: Metadata | undefined;
  private response: unknown;
  private hasResponse = false;
  private cancelled = false;
  private reissued = false;

  constructor(
    private readonly callOptions: InterceptorOptions,
    private readonly makeCall: NextCall,
    private readonly shared: ReissueShared,
  ) {
    const attempt = makeCall(callOptions);
    super(attempt);
    this.attempt = attempt;
  }

  override start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.sentMetadata = metadata;
    this.outer = listener;
    this.attempt.start(metadata, this);
  }

  override sendMessageWithContext(context: MessageContext, message: unknown): void {
    this.sentContext = context;
    this.sentMessage = message;
    this.attempt.sendMessageWithContext(context, message);
  }

  override sendMessage(message: unknown): void {
    this.sendMessageWithContext({}, message);
  }

  override halfClose(): void {
    this.halfClosed = true;
    this.attempt.halfClose();
  }

  override startRead(): void {
    this.attempt.startRead();
  }

  override cancelWithStatus(code: status, details: string): void {
    this.cancelled = true;
    this.attempt.cancelWithStatus(code, details);
  }

  override getPeer(): string {
    return this.attempt.getPeer();
  }

  override getAuthContext(): ReturnType<InterceptingCall["getAuthContext"]> {
    return this.attempt.getAuthContext();
  }

  onReceiveMetadata(metadata: Metadata): void {
    this.headers = metadata;
  }

  onReceiveMessage(message: unknown): void {
    this.response = message;
    this.hasResponse = true;
  }

  onReceiveStatus(received: StatusObject): void {
    if (received.code === status.OK) this.shared.budget.earn();
    else if (received.code === status.UNAVAILABLE && this.headers !== undefined && this.reissue(received)) return;
    const outer = this.outer;
    if (this.headers !== undefined) outer?.onReceiveMetadata?.(this.headers);
    if (this.hasResponse) outer?.onReceiveMessage?.(this.response);
    outer?.onReceiveStatus?.(received);
    // Let go of the request and response now: grpc-js keeps finished calls reachable for a while.
    this.outer = undefined;
    this.sentMetadata = undefined;
    this.sentMessage = undefined;
    this.headers = undefined;
    this.response = undefined;
  }

  /**
   * Starts the second attempt if this call may have one: not re-issued yet, the whole request was
   * sent and the caller neither cancelled it nor ran out of time, and the budget has a token.
   */
  private reissue(received: StatusObject): boolean {
    if (this.reissued || this.cancelled || !this.halfClosed || this.sentMetadata === undefined) return false;
    const deadline = this.callOptions.deadline;
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : (deadline ?? Number.POSITIVE_INFINITY);
    const remainingMs = deadlineMs - Date.now();
    if (!(remainingMs > 0)) return false;
    const { budget, logger } = this.shared;
    const allowed = budget.take();
    // `info`: a re-issue means a server died mid-call, rare and worth seeing (the budget bounds
    // the lines). A refused one is `debug`: the call's own failure line follows at `warn`.
    const level = allowed ? "info" : "debug";
    if (logger?.isLevelEnabled(level)) {
      logger[level](
        {
          method: this.callOptions.method_definition.path,
          target: this.shared.target,
          request_id: this.sentMetadata.get(REQUEST_ID_HEADER)[0]?.toString(),
          remaining_ms: Number.isFinite(remainingMs) ? Math.round(remainingMs) : null,
          details: received.details,
        },
        allowed
          ? "grpc client call re-issued: connection lost after response headers"
          : "grpc client call not re-issued: re-issue budget spent",
      );
    }
    if (!allowed) return false;
    this.reissued = true;
    this.headers = undefined;
    this.response = undefined;
    this.hasResponse = false;
    // The same metadata (request id, trace context), message and absolute deadline as the first
    // attempt; grpc-js's own retry policy applies to this attempt as to any call.
    const attempt = this.makeCall(this.callOptions);
    this.attempt = attempt;
    attempt.start(this.sentMetadata, this);
    attempt.sendMessageWithContext(this.sentContext ?? {}, this.sentMessage);
    attempt.halfClose();
    return true;
  }
}

function checkReissueOptions(options: Required<ReissueOptions>): void {
  if (!(options.maxTokens >= 1 && Number.isFinite(options.maxTokens))) {
    throw new RangeError(`reissue.maxTokens must be a number >= 1, got ${options.maxTokens}`);
  }
  if (!(options.tokenRatio > 0 && Number.isFinite(options.tokenRatio))) {
    throw new RangeError(`reissue.tokenRatio must be a number > 0, got ${options.tokenRatio}`);
  }
}

/**
 * Creates a grpc-js client interceptor that re-issues, once, a unary call of a method in
 * `options.methods` that failed UNAVAILABLE after its response headers had arrived.
 *
 * Why: grpc-js retries (gRFC A6) commit a call as soon as response headers arrive and never retry
 * it afterwards. A server that dies (SIGKILL, crash, stall then kill) after writing a call's
 * headers and message but before its trailers therefore fails that call with UNAVAILABLE
 * ("read ECONNRESET", "Connection dropped") even when other healthy servers are a pick away.
 * For a unary call nothing has reached the application yet (its response is delivered only with
 * the OK status), so for a method that is safe to run twice the call can be repeated.
 *
 * A call is re-issued when all hold: unary, its path is in `options.methods`, the status is
 * UNAVAILABLE, response headers had arrived, it was not re-issued before (at most one re-issue per
 * call), the caller has not cancelled it, its deadline has not passed, and the budget
 * ({@link ReissueOptions}, one bucket per interceptor) has a token. The re-issue is a new call
 * below this interceptor with the same metadata (`x-request-id`, `traceparent`), the same request
 * message and the same absolute deadline, so it never extends the caller's budget.
 *
 * Put it LAST in the interceptor list (innermost): interceptors before it (tracing, metrics,
 * logging) then see one call, as they do for grpc-js's own retries, and its duration includes the
 * re-issue. Other calls pass through untouched.
 */
export function createReissueInterceptor(options: ReissueInterceptorOptions): Interceptor {
  const resolved = {
    maxTokens: options.maxTokens ?? DEFAULT_REISSUE.maxTokens,
    tokenRatio: options.tokenRatio ?? DEFAULT_REISSUE.tokenRatio,
  };
  checkReissueOptions(resolved);
  const methods: ReadonlySet<string> = new Set(options.methods);
  const shared: ReissueShared = {
    budget: new ReissueBudget(resolved.maxTokens, resolved.tokenRatio),
    logger: options.logger,
    target: options.target,
  };
  return (callOptions, nextCall) => {
    const method = callOptions.method_definition;
    if (method.requestStream || method.responseStream || !methods.has(method.path)) {
      // grpc-js only uses the call interface of what an interceptor returns; handing the next
      // call back as it is keeps other calls free of an extra InterceptingCall layer.
      return nextCall(callOptions) as InterceptingCall;
    }
    return new ReissuingCall(callOptions, nextCall, shared);
  };
}

/**
 * The re-issue interceptor `createClient` appends for one service: none when `reissue` or `retry`
 * is `false` or the service has no unary method in `retryablePaths`.
 */
export function clientReissueInterceptors(
  definition: GenericServiceDefinition,
  retryablePaths: ReadonlySet<string>,
  options: { readonly retry?: RetryOptions | false; readonly reissue?: ReissueOptions | false },
  logger: Logger,
  target: string,
): Interceptor[] {
  if (options.retry === false || options.reissue === false) return [];
  const methods = Object.values(definition)
    .filter((method) => !method.requestStream && !method.responseStream && retryablePaths.has(method.path))
    .map((method) => method.path);
  if (methods.length === 0) return [];
  return [createReissueInterceptor({ ...options.reissue, methods, logger, target })];
}
