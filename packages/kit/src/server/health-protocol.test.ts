// Differential conformance test: KitHealth (our grpc.health.v1 on the ts-proto codecs, which spares
// every service grpc-health-check's proto parse at start-up) against the official grpc-health-check
// HealthImplementation. Two real servers get the same operations; every answer must be the same on
// the wire: status codes, details, response messages, and Watch streams the same sequence. Messages
// are compared as proto3 values, decoded from the raw bytes each server sent: protobufjs (under
// grpc-health-check) writes a zero enum explicitly (UNKNOWN = 08 00) where ts-proto omits it, which
// proto3 defines as the same message, and every conforming decoder reads the same way.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CallOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  credentials,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { healthV1 } from "@obfy/protos";
import { HealthImplementation } from "grpc-health-check";
import { KitHealth } from "./health.js";

/** The statuses both implementations accept (grpc-health-check's own ServingStatus type). */
type Status = "UNKNOWN" | "SERVING" | "NOT_SERVING";

/** Every wait is bounded: a missing answer fails the test instead of hanging it. */
const WAIT_MS = 5_000;

/** A client that sends and receives raw bytes, so nothing but our decoder stands between the wire and the test. */
interface RawHealthClient {
  Check(
    request: Buffer,
    options: CallOptions,
    callback: (error: ServiceError | null, response?: Buffer) => void,
  ): ClientUnaryCall;
  Watch(request: Buffer, options: CallOptions): ClientReadableStream<Buffer>;
  List(
    request: Buffer,
    options: CallOptions,
    callback: (error: ServiceError | null, response?: Buffer) => void,
  ): ClientUnaryCall;
  close(): void;
}

const identity = (bytes: Buffer): Buffer => bytes;
const method = (name: string, responseStream: boolean) => ({
  path: `/grpc.health.v1.Health/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});
const rawDefinition: ServiceDefinition = {
  Check: method("Check", false),
  Watch: method("Watch", true),
  List: method("List", false),
};
const RawClient = makeGenericClientConstructor(rawDefinition, "grpc.health.v1.Health") as unknown as new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => RawHealthClient;

/** One unary answer as seen by a client: the status code, its details and the decoded response. */
interface Answer<M> {
  code: number;
  details: string;
  /** The response message; undefined on error. */
  message: M | undefined;
}

function deadline(): CallOptions {
  return { deadline: Date.now() + WAIT_MS };
}

function unary<M>(
  decode: (bytes: Uint8Array) => M,
  call: (callback: (error: ServiceError | null, response?: Buffer) => void) => void,
): Promise<Answer<M>> {
  return new Promise((resolve) =>
    call((error, response) =>
      resolve(
        error
          ? { code: error.code, details: error.details, message: undefined }
          : { code: status.OK, details: "", message: decode(response ?? Buffer.alloc(0)) },
      ),
    ),
  );
}

/** Records a Watch stream's messages and lets the test wait for the next ones. */
class WatchRecorder {
  readonly messages: healthV1.HealthCheckResponse[] = [];
  #waiter: (() => void) | undefined;
  readonly #stream: ClientReadableStream<Buffer>;

  constructor(stream: ClientReadableStream<Buffer>) {
    this.#stream = stream;
    stream.on("data", (bytes: Buffer) => {
      this.messages.push(healthV1.HealthCheckResponse.decode(bytes));
      this.#waiter?.();
    });
    // Cancelling at the end raises CANCELLED on the client side; it is not an answer under test.
    stream.on("error", () => {});
  }

  /** Resolves once `count` messages in all have arrived; rejects after WAIT_MS. */
  async waitFor(count: number): Promise<void> {
    const started = Date.now();
    while (this.messages.length < count) {
      const left = WAIT_MS - (Date.now() - started);
      if (left <= 0) throw new Error(`Watch: ${this.messages.length} of ${count} messages after ${WAIT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  cancel(): void {
    this.#stream.cancel();
  }
}

/** One server under test and a raw client on it. */
interface Target {
  label: string;
  setStatus(service: string, status: Status): void;
  client: RawHealthClient;
}

async function startTarget(
  label: string,
  addToServer: (server: Server) => void,
  setStatus: (service: string, status: Status) => void,
  cleanup: (fn: () => void) => void,
): Promise<Target> {
  const server = new Server();
  addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const client = new RawClient(`127.0.0.1:${port}`, credentials.createInsecure());
  cleanup(() => {
    client.close();
    server.forceShutdown();
  });
  return { label, setStatus, client };
}

const checkRequest = (service: string): Buffer => Buffer.from(healthV1.HealthCheckRequest.encode({ service }).finish());
const listRequest = (): Buffer => Buffer.from(healthV1.HealthListRequest.encode({}).finish());

describe("KitHealth against grpc-health-check", () => {
  it("gives the same wire answers to the same Check, Watch and List sequence", async (t) => {
    const cleanups: (() => void)[] = [];
    t.after(() => {
      for (const cleanup of cleanups) cleanup();
    });
    const official = new HealthImplementation({ "": "NOT_SERVING", "pkg.Service": "NOT_SERVING" });
    const kit = new KitHealth(["pkg.Service"], "NOT_SERVING");
    const targets = [
      await startTarget(
        "grpc-health-check",
        (s) => official.addToServer(s),
        (n, v) => official.setStatus(n, v),
        (f) => cleanups.push(f),
      ),
      await startTarget(
        "KitHealth",
        (s) => kit.addToServer(s),
        (n, v) => kit.setStatus(n, v),
        (f) => cleanups.push(f),
      ),
    ];
    const [reference, candidate] = targets as [Target, Target];

    const setBoth = (service: string, value: Status): void => {
      for (const target of targets) target.setStatus(service, value);
    };
    /** Runs one call on both servers and asserts identical answers; returns the reference answer. */
    const same = async <M>(step: string, call: (client: RawHealthClient) => Promise<Answer<M>>): Promise<Answer<M>> => {
      const [expected, actual] = await Promise.all([call(reference.client), call(candidate.client)]);
      assert.deepEqual(actual, expected, `${step}: KitHealth differs from grpc-health-check`);
      return expected;
    };
    const check = (service: string) =>
      same(`Check ${JSON.stringify(service)}`, (c) =>
        unary(healthV1.HealthCheckResponse.decode, (cb) => c.Check(checkRequest(service), deadline(), cb)),
      );
    const list = (step: string) =>
      same(step, (c) => unary(healthV1.HealthListResponse.decode, (cb) => c.List(listRequest(), deadline(), cb)));
    const decodeStatus = (answer: Answer<healthV1.HealthCheckResponse>) => answer.message?.status;
    const { UNKNOWN, SERVING, NOT_SERVING } = healthV1.HealthCheckResponse_ServingStatus;

    // Check: initial statuses, an unknown name (NOT_FOUND and its message), each status value.
    assert.equal(decodeStatus(await check("")), NOT_SERVING);
    assert.equal(decodeStatus(await check("pkg.Service")), NOT_SERVING);
    const unknown = await check("no.such.Service");
    assert.equal(unknown.code, status.NOT_FOUND);
    assert.equal(unknown.details, "Health status unknown for service no.such.Service");
    setBoth("", "SERVING");
    setBoth("pkg.Service", "SERVING");
    assert.equal(decodeStatus(await check("")), SERVING);
    assert.equal(decodeStatus(await check("pkg.Service")), SERVING);
    setBoth("pkg.Service", "UNKNOWN");
    assert.equal(decodeStatus(await check("pkg.Service")), UNKNOWN);
    await list("List with an UNKNOWN status");

    // Watch: a known name through several changes (a repeated status is sent again), two watchers
    // of one name, and a name that is unknown at first and appears later.
    const watches = (service: string) =>
      targets.map((target) => new WatchRecorder(target.client.Watch(checkRequest(service), {})));
    const known = watches("pkg.Service");
    const knownToo = watches("pkg.Service");
    const later = watches("later.Service");
    const all = [...known, ...knownToo, ...later];
    t.after(() => {
      for (const watch of all) watch.cancel();
    });
    await Promise.all(all.map((watch) => watch.waitFor(1)));
    setBoth("pkg.Service", "NOT_SERVING");
    setBoth("pkg.Service", "SERVING");
    setBoth("pkg.Service", "SERVING");
    setBoth("later.Service", "SERVING");
    setBoth("later.Service", "NOT_SERVING");
    await Promise.all([...known, ...knownToo].map((watch) => watch.waitFor(4)));
    await Promise.all(later.map((watch) => watch.waitFor(3)));
    // A cancelled watcher is forgotten: later changes reach only the open one, and nothing breaks.
    for (const watch of knownToo) watch.cancel();
    setBoth("pkg.Service", "NOT_SERVING");
    await Promise.all(known.map((watch) => watch.waitFor(5)));
    // A last, distinct status on every watched name: once it has arrived, each stream has delivered
    // everything sent before it, so the full sequences can be compared with nothing in flight.
    setBoth("pkg.Service", "UNKNOWN");
    setBoth("later.Service", "UNKNOWN");
    await Promise.all(known.map((watch) => watch.waitFor(6)));
    await Promise.all(later.map((watch) => watch.waitFor(4)));
    for (const [name, [expected, actual]] of [
      ["pkg.Service", known],
      ["pkg.Service (cancelled)", knownToo],
      ["later.Service", later],
    ] as const) {
      assert.deepEqual(actual?.messages, expected?.messages, `Watch ${name}: KitHealth differs`);
    }
    const watchStatuses = (watch: WatchRecorder | undefined) => watch?.messages.map((message) => message.status);
    const { SERVICE_UNKNOWN } = healthV1.HealthCheckResponse_ServingStatus;
    assert.deepEqual(watchStatuses(known[0]), [UNKNOWN, NOT_SERVING, SERVING, SERVING, NOT_SERVING, UNKNOWN]);
    assert.deepEqual(watchStatuses(later[0]), [SERVICE_UNKNOWN, SERVING, NOT_SERVING, UNKNOWN]);

    // Check and List after Watch made "later.Service" known, then List at its limit: 100 names are
    // listed, the 101st makes it RESOURCE_EXHAUSTED.
    assert.equal(decodeStatus(await check("later.Service")), UNKNOWN);
    const listed = await list("List with three names");
    assert.deepEqual(listed.message?.statuses, {
      "": { status: SERVING },
      "pkg.Service": { status: UNKNOWN },
      "later.Service": { status: UNKNOWN },
    });
    for (let i = 3; i < 100; i++) setBoth(`extra.Service${i}`, i % 2 ? "SERVING" : "NOT_SERVING");
    assert.equal((await list("List of 100 names")).code, status.OK);
    setBoth("extra.Service100", "SERVING");
    const tooMany = await list("List of 101 names");
    assert.equal(tooMany.code, status.RESOURCE_EXHAUSTED);
    assert.equal(tooMany.details, "Too many services to list.");
  });
});
