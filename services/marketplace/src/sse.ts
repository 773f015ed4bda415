import type { FastifyReply, FastifyRequest } from "fastify";

/** How long one event stream stays open; the browser's EventSource then reconnects by itself. */
export const STREAM_MAX_MS = 10 * 60_000;

/** An open server-sent-events response. */
export interface EventStream {
  /** Aborted when the browser goes away, the app closes, or {@link STREAM_MAX_MS} passes. */
  readonly signal: AbortSignal;
  send(event: string, data: unknown): void;
  end(): void;
}

/**
 * Turns the reply into a `text/event-stream` (fastify lets go of it). The security headers the
 * app sets on every reply are copied over, since a hijacked reply does not send them.
 */
export function openEventStream(_request: FastifyRequest, reply: FastifyReply, closing: AbortSignal): EventStream {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), STREAM_MAX_MS);
  const signal = AbortSignal.any([controller.signal, closing]);
  const raw = reply.raw;
  const headers: Record<string, string | number | string[]> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
  reply.hijack();
  raw.writeHead(200, {
    ...headers,
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    "x-accel-buffering": "no",
    connection: "keep-alive",
  });
  // Retry after 3 s if the stream ends without an "end" event (the service went away).
  raw.write("retry: 3000\n\n");
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    controller.abort();
    raw.end();
  };
  raw.once("close", end);
  signal.addEventListener("abort", end, { once: true });
  return {
    signal,
    send(event, data) {
      if (!ended) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end,
  };
}
