// Error details (google.rpc.Status in grpc-status-details-bin) through a real server and client.
import assert from "node:assert/strict";
import { test } from "node:test";
import { googleRpcErrorDetails } from "@obfy/protos";
import { FailedPrecondition, readStatusDetails } from "./errors.js";
import { dummyClient, raises } from "./testing/index.js";

test("a GrpcError's details reach the caller as a google.rpc.Status, and readStatusDetails reads them", async (t) => {
  const failure = googleRpcErrorDetails.PreconditionFailure.encode({
    violations: [{ type: "STOCK", subject: "42", description: "1 requested, 0 available" }],
  }).finish();
  const client = await dummyClient({
    specialCases: {
      short: raises(
        new FailedPrecondition("Not enough stock", {
          details: [{ typeUrl: "type.googleapis.com/google.rpc.PreconditionFailure", value: failure }],
        }),
      ),
      plain: raises(new FailedPrecondition("No details")),
    },
  });
  t.after(() => client.close());

  const error = await client.execute("short").then(
    () => assert.fail("answered"),
    (e: { code: number; metadata: Parameters<typeof readStatusDetails>[0] }) => e,
  );
  assert.equal(error.code, 9, "FAILED_PRECONDITION");
  const details = readStatusDetails(error.metadata);
  assert.equal(details.length, 1);
  assert.equal(details[0]?.typeUrl, "type.googleapis.com/google.rpc.PreconditionFailure");
  const decoded = googleRpcErrorDetails.PreconditionFailure.decode(details[0]?.value ?? new Uint8Array());
  assert.deepEqual(decoded.violations[0]?.subject, "42");

  const plain = await client.execute("plain").then(
    () => assert.fail("answered"),
    (e: { metadata: Parameters<typeof readStatusDetails>[0] }) => e,
  );
  assert.deepEqual(readStatusDetails(plain.metadata), []);
});
