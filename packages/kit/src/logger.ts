import { writeSync } from "node:fs";
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

/**
 * Bytes of JSON lines gathered before one write(2) to stdout. At a few thousand calls a second
 * one syscall per line was the largest single cost of the per-call log line; 16 KiB (about 45
 * call lines, sonic-boom's own largest write) rather than 4 KiB cut another 0.3–0.5 µs of CPU
 * per line (fewer thread-pool writes and callbacks). At light traffic the flush interval bounds
 * how long a line waits.
 */
export const LOG_BUFFER_BYTES = 16384;
/** Most time a buffered line waits before it is written when traffic is light, ms. */
export const LOG_FLUSH_INTERVAL_MS = 250;

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
 * JSON lines to stdout are buffered ({@link LOG_BUFFER_BYTES}, written at least every
 * {@link LOG_FLUSH_INTERVAL_MS}) and written asynchronously; pino writes what is left
 * synchronously when the process exits, whether through `process.exit` (as after a graceful
 * shutdown or a fatal error) or because the event loop emptied. Only SIGKILL can lose the
 * buffer.
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
  return pino(base, stdoutBuffer());
}

/** The stream {@link createLogger} writes JSON lines to stdout through. */
interface StdoutBuffer extends pino.DestinationStream {
  /** Hands buffered lines to the kernel; `cb` runs once they are written. pino's `logger.flush` calls it. */
  flush(cb?: (error?: Error) => void): void;
}

// One buffer per process, shared by every logger writing to stdout: they all write to fd 1, and
// one buffer keeps their lines in order and needs one set of exit hooks.
let sharedStdoutBuffer: StdoutBuffer | undefined;

/**
 * Lines are gathered here as one string and handed to sonic-boom (pino's destination, asynchronous
 * writes, minLength 0) once {@link LOG_BUFFER_BYTES} are pending, at least every
 * {@link LOG_FLUSH_INTERVAL_MS}, and on exit.
 *
 * Not sonic-boom's own `minLength` buffering: it appends each line to its pending chunk with `+=`
 * and then takes `Buffer.byteLength` of that whole chunk, which flattens the concatenated
 * string. While a write is in flight that chunk grows to 16 KiB, so every line copied (and
 * allocated) the kilobytes buffered before it: several µs of CPU and garbage collection per
 * line, more than pino's own serialisation. Here `.length` is O(1) and the batch is flattened
 * once when it is written. Its threshold counts UTF-16 units, not bytes: near enough.
 */
function stdoutBuffer(): StdoutBuffer {
  if (sharedStdoutBuffer !== undefined) return sharedStdoutBuffer;
  // pino registers this stream to be flushed synchronously on process exit (on-exit-leak-free).
  const boom = pino.destination({ dest: 1, sync: false, minLength: 0 });
  let pending = "";
  // `boom.write` is looked up on each call: after EPIPE pino replaces it with a no-op.
  const release = (): void => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = "";
    boom.write(batch);
  };
  setInterval(release, LOG_FLUSH_INTERVAL_MS).unref();
  // Prepended so the pending lines reach sonic-boom before pino's own hook flushes and ends it.
  process.prependListener("beforeExit", release);
  // On exit nothing asynchronous runs any more: what sonic-boom holds first, then the rest.
  process.prependListener("exit", () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = "";
    try {
      boom.flushSync();
      writeAllSync(1, Buffer.from(batch, "utf8"));
    } catch {
      // stdout is closed or broken (flushSync throws once pino has ended it): nowhere left to report it.
    }
  });
  sharedStdoutBuffer = {
    write(line: string): void {
      pending += line;
      if (pending.length >= LOG_BUFFER_BYTES) release();
    },
    flush(cb?: (error?: Error) => void): void {
      release();
      boom.flush(cb);
    },
  };
  return sharedStdoutBuffer;
}

/** Writes all of `bytes` to `fd` synchronously, retrying partial writes and EAGAIN on a full non-blocking pipe. */
function writeAllSync(fd: number, bytes: Buffer): void {
  let offset = 0;
  let retries = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN" || ++retries > 10_000) throw error;
    }
  }
}
