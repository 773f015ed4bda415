/**
 * Test helpers for code built on `@obfy/kit`: a real Dummy server and client, as in
 * grpc_interceptor.testing. Import from `@obfy/kit/testing`.
 * @packageDocumentation
 */
export {
  createDummyService,
  type DummyCallOptions,
  type DummyClient,
  type DummyClientOptions,
  dummyClient,
  raises,
  type SpecialCase,
  type SpecialCases,
} from "./dummy-client.js";
