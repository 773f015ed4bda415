/**
 * A lean HTTP/2 client connection for the open-loop latency generator (bench/fixtures/open-loop.ts):
 * unary gRPC calls of one pre-encoded request over a plain TCP socket, framed by hand, with HPACK
 * from the `hpack` package. Kept, against our rule of using a library for HTTP/2 framing, because
 * no maintained client does this job on one load core (docs/performance.md, "The open-loop
 * generator"; measured on Node 26.10 against the same bare grpc-js server, rounds alternated, at
 * 6,000 calls/s, where the target's rate is 6,700–10,000 calls/s):
 * - `node:http2`, the same scheduler: its own send lag p99 7–22 ms and 184–238 ms of garbage
 *   collection per 5 s (longest pauses 12–26 ms), at 0.86–0.99 of its core; this client: lag p99
 *   1.4–5.6 ms, 105–140 ms of collection (longest 4–9 ms). Every pause lands in the latency of
 *   every call in flight, and at the target's rate `node:http2` had no core left.
 * - h2load's `--rps`: it arms each client's timer no faster than every 10 ms, so 96 % of sends
 *   left within 50 µs of the previous one (bursts); p50 2.3–4.0 ms against 0.1–0.2 ms here.
 * - the grpc-js client: it fell 0.8–1.1 s behind its schedule at 5,000 calls/s.
 * Here a call costs one Buffer copy of a template, two small HPACK decodes and a closure.
 *
 * What it speaks (RFC 9113): the connection preface and SETTINGS (push off, the largest stream
 * window), SETTINGS and PING acknowledgements, connection-level WINDOW_UPDATEs as response data
 * arrives, HEADERS (+ CONTINUATION) and DATA with END_STREAM, RST_STREAM and GOAWAY. Request
 * headers use HPACK literals without indexing, so the server's decoder table never changes and
 * every request is the same bytes but for its stream id. Responses are decoded with one stateful
 * HPACK decoder per connection, in frame order, as the protocol requires.
 *
 * A call ends when its stream ends (END_STREAM on the trailers, or on a trailers-only HEADERS)
 * or is reset, and reports its `grpc-status` (undefined when none came: a reset or a dead
 * connection). Response bodies are counted, not parsed.
 */
import { connect, type Socket } from "node:net";
import HPACK from "hpack";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

const FRAME_DATA = 0x0;
const FRAME_HEADERS = 0x1;
const FRAME_RST_STREAM = 0x3;
const FRAME_SETTINGS = 0x4;
const FRAME_PING = 0x6;
const FRAME_GOAWAY = 0x7;
const FRAME_WINDOW_UPDATE = 0x8;
const FRAME_CONTINUATION = 0x9;

const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

const SETTINGS_ENABLE_PUSH = 0x2;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const MAX_WINDOW = 2 ** 31 - 1;
/** Connection-level receive window is topped up once this much response data has arrived. */
const WINDOW_REFILL_BYTES = 1 << 20;
const FRAME_HEADER_BYTES = 9;

/** How one call ended. */
export interface RawCallResult {
  /** `grpc-status` from the trailers (or a trailers-only response); undefined if none arrived. */
  readonly grpcStatus: string | undefined;
  /** `grpc-message` (percent-decoded), when the server sent one. */
  readonly grpcMessage: string | undefined;
  /** Set when the stream was reset or the connection failed before the call ended. */
  readonly transportError: string | undefined;
}

type Done = (result: RawCallResult) => void;

interface Pending {
  readonly done: Done;
  grpcStatus: string | undefined;
  grpcMessage: string | undefined;
}

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUIntBE(length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId, 5);
  return header;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([frameHeader(payload.length, type, flags, streamId), payload]);
}

/** An HPACK integer with an `prefixBits`-bit prefix (RFC 7541 §5.1), first byte OR'ed with `mask`. */
function hpackInt(value: number, prefixBits: number, mask: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [mask | value];
  const out = [mask | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** A raw (not Huffman) HPACK string literal. */
function hpackString(value: string): number[] {
  const bytes = Buffer.from(value, "latin1");
  return [...hpackInt(bytes.length, 7, 0), ...bytes];
}

/**
 * The request's header block: `:method POST` and `:scheme http` from the static table, the rest
 * as literals without indexing (name from the static table where it has one).
 */
export function requestHeaderBlock(authority: string, path: string): Buffer {
  const bytes: number[] = [
    0x83, // :method POST (static 3)
    0x86, // :scheme http (static 6)
    ...hpackInt(4, 4, 0x00), // :path (static name 4), literal without indexing
    ...hpackString(path),
    ...hpackInt(1, 4, 0x00), // :authority (static name 1)
    ...hpackString(authority),
    ...hpackInt(31, 4, 0x00), // content-type (static name 31)
    ...hpackString("application/grpc"),
    0x00, // new name, literal without indexing
    ...hpackString("te"),
    ...hpackString("trailers"),
  ];
  return Buffer.from(bytes);
}

/** `grpc-message` is percent-encoded (gRPC over HTTP/2, "Responses"); a malformed one is kept as sent. */
function percentDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** One HTTP/2 connection making unary gRPC calls of one fixed request. */
export class RawGrpcConnection {
  readonly #socket: Socket;
  readonly #template: Buffer;
  readonly #headersLength: number;
  readonly #pending = new Map<number, Pending>();
  readonly #hpack = new HPACK();
  #nextStreamId = 1;
  #buffered: Buffer | undefined = undefined;
  #unacknowledgedData = 0;
  /** Header block fragments of a HEADERS frame still waiting for its CONTINUATIONs. */
  #headerBlock: { streamId: number; endStream: boolean; fragments: Buffer[] } | undefined = undefined;
  #failure: string | undefined = undefined;

  private constructor(socket: Socket, authority: string, path: string, grpcFrame: Buffer) {
    this.#socket = socket;
    const block = requestHeaderBlock(authority, path);
    this.#headersLength = FRAME_HEADER_BYTES + block.length;
    // HEADERS (END_HEADERS) then DATA (END_STREAM) carrying the gRPC frame; stream ids patched per call.
    this.#template = Buffer.concat([
      frameHeader(block.length, FRAME_HEADERS, FLAG_END_HEADERS, 0),
      block,
      frameHeader(grpcFrame.length, FRAME_DATA, FLAG_END_STREAM, 0),
      grpcFrame,
    ]);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (error) => this.#fail(`connection error: ${error.message}`));
    socket.on("close", () => this.#fail("connection closed"));
  }

  /** Opens a connection to `host:port` and sends the preface and settings. */
  static open(host: string, port: number, path: string, grpcFrame: Buffer): Promise<RawGrpcConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        const settings = Buffer.alloc(12);
        settings.writeUInt16BE(SETTINGS_ENABLE_PUSH, 0);
        settings.writeUInt32BE(0, 2);
        settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
        settings.writeUInt32BE(MAX_WINDOW, 8);
        const increment = Buffer.alloc(4);
        increment.writeUInt32BE(MAX_WINDOW - 65_535, 0);
        const connection = new RawGrpcConnection(socket, `${host}:${port}`, path, grpcFrame);
        socket.write(
          Buffer.concat([PREFACE, frame(FRAME_SETTINGS, 0, 0, settings), frame(FRAME_WINDOW_UPDATE, 0, 0, increment)]),
        );
        resolve(connection);
      });
    });
  }

  /** Calls in flight on this connection. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Starts one call; `done` runs once, when it ends. */
  call(done: Done): void {
    if (this.#failure !== undefined) {
      done({ grpcStatus: undefined, grpcMessage: undefined, transportError: this.#failure });
      return;
    }
    const streamId = this.#nextStreamId;
    this.#nextStreamId += 2;
    const request = Buffer.from(this.#template);
    request.writeUInt32BE(streamId, 5);
    request.writeUInt32BE(streamId, this.#headersLength + 5);
    this.#pending.set(streamId, { done, grpcStatus: undefined, grpcMessage: undefined });
    this.#socket.write(request);
  }

  /** Closes the connection; calls still in flight end with a transport error. */
  close(): void {
    this.#socket.destroy();
    this.#fail("connection closed by the client");
  }

  #fail(reason: string): void {
    this.#failure ??= reason;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of pending) {
      call.done({ grpcStatus: call.grpcStatus, grpcMessage: call.grpcMessage, transportError: reason });
    }
  }

  #onData(chunk: Buffer): void {
    let data = this.#buffered === undefined ? chunk : Buffer.concat([this.#buffered, chunk]);
    this.#buffered = undefined;
    let offset = 0;
    while (data.length - offset >= FRAME_HEADER_BYTES) {
      const length = data.readUIntBE(offset, 3);
      const end = offset + FRAME_HEADER_BYTES + length;
      if (end > data.length) break;
      const type = data[offset + 3] ?? 0;
      const flags = data[offset + 4] ?? 0;
      const streamId = data.readUInt32BE(offset + 5) & 0x7fffffff;
      this.#onFrame(type, flags, streamId, data.subarray(offset + FRAME_HEADER_BYTES, end));
      offset = end;
    }
    if (offset < data.length) {
      // Keep the partial frame; copy it so the socket's chunk can be collected.
      data = data.subarray(offset);
      this.#buffered = Buffer.from(data);
    }
  }

  #onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    switch (type) {
      case FRAME_DATA: {
        this.#unacknowledgedData += payload.length;
        if (this.#unacknowledgedData >= WINDOW_REFILL_BYTES) {
          const increment = Buffer.alloc(4);
          increment.writeUInt32BE(this.#unacknowledgedData, 0);
          this.#unacknowledgedData = 0;
          this.#socket.write(frame(FRAME_WINDOW_UPDATE, 0, 0, increment));
        }
        if ((flags & FLAG_END_STREAM) !== 0) this.#finish(streamId, undefined);
        return;
      }
      case FRAME_HEADERS: {
        let block = payload;
        if ((flags & FLAG_PADDED) !== 0) {
          const padding = block[0] ?? 0;
          block = block.subarray(1, block.length - padding);
        }
        if ((flags & FLAG_PRIORITY) !== 0) block = block.subarray(5);
        const endStream = (flags & FLAG_END_STREAM) !== 0;
        if ((flags & FLAG_END_HEADERS) !== 0) this.#onHeaderBlock(streamId, endStream, block);
        else this.#headerBlock = { streamId, endStream, fragments: [Buffer.from(block)] };
        return;
      }
      case FRAME_CONTINUATION: {
        const open = this.#headerBlock;
        if (open === undefined || open.streamId !== streamId) {
          this.#socket.destroy();
          this.#fail("protocol error: unexpected CONTINUATION");
          return;
        }
        open.fragments.push(Buffer.from(payload));
        if ((flags & FLAG_END_HEADERS) !== 0) {
          this.#headerBlock = undefined;
          this.#onHeaderBlock(streamId, open.endStream, Buffer.concat(open.fragments));
        }
        return;
      }
      case FRAME_RST_STREAM:
        this.#finish(streamId, `stream reset (HTTP/2 error ${payload.readUInt32BE(0)})`);
        return;
      case FRAME_SETTINGS:
        if ((flags & FLAG_ACK) === 0) this.#socket.write(frame(FRAME_SETTINGS, FLAG_ACK, 0));
        return;
      case FRAME_PING:
        if ((flags & FLAG_ACK) === 0) this.#socket.write(frame(FRAME_PING, FLAG_ACK, 0, Buffer.from(payload)));
        return;
      case FRAME_GOAWAY: {
        // Streams above the last one the server will process are refused; the rest may still end.
        const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
        this.#failure ??= `server sent GOAWAY (HTTP/2 error ${payload.readUInt32BE(4)})`;
        for (const id of [...this.#pending.keys()]) {
          if (id > lastStreamId) this.#finish(id, this.#failure);
        }
        return;
      }
      default:
        // WINDOW_UPDATE, PRIORITY and unknown frames: nothing to do for small unary requests.
        return;
    }
  }

  #onHeaderBlock(streamId: number, endStream: boolean, block: Buffer): void {
    // Every block goes through the decoder, in order, to keep its dynamic table in step.
    const fields = this.#hpack.decode(block);
    const call = this.#pending.get(streamId);
    if (call !== undefined) {
      for (const [name, value] of fields) {
        if (name === "grpc-status") call.grpcStatus = value;
        else if (name === "grpc-message") call.grpcMessage = percentDecode(value);
      }
    }
    if (endStream) this.#finish(streamId, undefined);
  }

  #finish(streamId: number, transportError: string | undefined): void {
    const call = this.#pending.get(streamId);
    if (call === undefined) return;
    this.#pending.delete(streamId);
    call.done({ grpcStatus: call.grpcStatus, grpcMessage: call.grpcMessage, transportError });
  }
}
