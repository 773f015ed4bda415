// Readiness probes for system tests: poll the signal a service gives (HTTP /readyz, gRPC health)
// at a short interval, bounded in time, instead of sleeping a guessed amount.
import { createServer } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { createClient, createLogger } from "@obfy/kit";
import { healthV1 } from "@obfy/protos";

const POLL_MS = 100;

/** A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error("no port assigned");
  return port;
}

/**
 * `count` different TCP ports on 127.0.0.1 that were free a moment ago. All are held at once
 * before any is closed: ports asked for one by one may come back the same (seen: two services
 * of test/start.test.ts given one port).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once("error", reject);
            server.listen(0, "127.0.0.1", () => {
              const address = server.address();
              if (address === null || typeof address === "string") reject(new Error("no port assigned"));
              else resolve(address.port);
            });
          }),
      ),
    );
  } finally {
    await Promise.all(
      servers.map(
        (server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
      ),
    );
  }
}

/** Polls `url` until it answers 200; returns the parsed JSON body. Rejects after `timeoutMs`. */
export async function waitForHttpReady(url: string, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      const text = await response.text();
      if (response.status === 200) return JSON.parse(text);
      last = `HTTP ${response.status}: ${text}`;
    } catch (error) {
      last = String(error);
    }
    await delay(POLL_MS);
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms (last: ${last})`);
}

/** Polls grpc.health.v1 Check ("" = the whole server) on 127.0.0.1:port until SERVING. */
export async function waitForGrpcServing(port: number, timeoutMs: number): Promise<void> {
  const client = createClient(healthV1.HealthService, `127.0.0.1:${port}`, {
    logger: createLogger({ name: "readiness", level: "silent" }),
    retry: false,
  });
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  try {
    while (Date.now() < deadline) {
      try {
        const response = await client.check({ service: "" }, { timeoutMs: 1000 });
        if (response.status === healthV1.HealthCheckResponse_ServingStatus.SERVING) return;
        last = `status ${response.status}`;
      } catch (error) {
        last = String(error);
      }
      await delay(POLL_MS);
    }
  } finally {
    client.close();
  }
  throw new Error(`gRPC health on port ${port} not SERVING within ${timeoutMs} ms (last: ${last})`);
}
