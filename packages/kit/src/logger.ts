import pino, { type Logger as PinoLogger } from "pino";
import pretty from "pino-pretty";

/** The kit's logger type (pino). Per-call loggers are children bound to the method and request id. */
export type Logger = PinoLogger;

/** Options for {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Service or component name, written as `name` on every line. */
  name: string;
  /** Minimum level; defaults to `LOG_LEVEL`, then `info`. */
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to capture them. */
  destination?: NodeJS.WritableStream;
  /** Environment to read `LOG_LEVEL` and `LOG_FORMAT` from; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Adds fields to every line, e.g. `traceLogMixin` for trace and request ids. Children inherit it. */
  mixin?: pino.MixinFn;
}

const LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/**
 * Creates the process logger: one JSON object per line on stdout, which is what log collectors
 * expect. Set `LOG_FORMAT=pretty` (or run in a terminal without `LOG_FORMAT=json`) for
 * human-readable lines; pretty printing runs in-process and synchronously so no line is lost on exit.
 *
 * `LOG_LEVEL` picks the minimum level (`fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent`).
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const env = options.env ?? process.env;
  const level = options.level ?? env.LOG_LEVEL ?? "info";
  if (!LEVELS.has(level)) {
    throw new Error(`LOG_LEVEL must be one of ${[...LEVELS].join(", ")}, got ${JSON.stringify(level)}`);
  }
  const format = env.LOG_FORMAT;
  if (format !== undefined && format !== "json" && format !== "pretty") {
    throw new Error(`LOG_FORMAT must be "json" or "pretty", got ${JSON.stringify(format)}`);
  }
  const destination = options.destination ?? process.stdout;
  const isTty = destination === process.stdout && process.stdout.isTTY === true;
  const usePretty = format === "pretty" || (format === undefined && isTty);
  const base = { name: options.name, level, ...(options.mixin ? { mixin: options.mixin } : {}) };
  if (usePretty) {
    return pino(base, pretty({ destination, sync: true, colorize: isTty }));
  }
  // Asynchronous writes keep logging off the hot path; pino flushes the buffer on exit.
  return pino(base, destination === process.stdout ? pino.destination({ dest: 1, sync: false }) : destination);
}
