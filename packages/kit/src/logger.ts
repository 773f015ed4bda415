import { createRequire } from "node:module";
import pino, { type Logger as PinoLogger } from "pino";

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

// pino-pretty (and its colour and date libraries) is only for people reading a terminal: loaded
// on first use so a production process never pays its memory and start-up time. createRequire
// keeps createLogger synchronous; pino-pretty is CommonJS.
const require = createRequire(import.meta.url);
type PrettyFactory = typeof import("pino-pretty");
function loadPretty(): PrettyFactory {
  return require("pino-pretty") as PrettyFactory;
}

/**
 * Creates the process logger: one JSON object per line on stdout, which is what log collectors
 * expect. Set `LOG_FORMAT=pretty` (or run in a terminal without `LOG_FORMAT=json`) for
 * human-readable lines; pretty printing runs in-process and synchronously so no line is lost on exit.
 *
 * JSON lines go to stdout through pino's asynchronous destination: a line is written at once
 * when no write is in flight, and the lines logged meanwhile go out together in the next write
 * (so a busy server makes one write per batch, not per line). pino writes what is left
 * synchronously when the process exits, whether through `process.exit` (as after a graceful
 * shutdown or a fatal error) or because the event loop emptied. Only SIGKILL can lose lines.
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
    const pretty = loadPretty();
    return pino(base, pretty({ destination, sync: true, colorize: isTty }));
  }
  if (destination !== process.stdout) return pino(base, destination);
  return pino(base, stdout());
}

// One destination for every logger writing to stdout: they all write to fd 1, and one stream
// keeps their lines in order.
let stdoutDestination: pino.DestinationStream | undefined;

/** pino's asynchronous destination for fd 1; pino flushes it synchronously when the process exits. */
function stdout(): pino.DestinationStream {
  stdoutDestination ??= pino.destination({ dest: 1, sync: false });
  return stdoutDestination;
}
