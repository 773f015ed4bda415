// The "Write a new service" example of the root README, kept compiling and tested here.
// README.md shows this file verbatim (a test checks they match).
import {
  createLogger,
  createServer,
  defineService,
  InvalidArgument,
  readServerConfig,
  runUntilSignalled,
} from "@obfy/kit";
import { dummyV1 } from "@obfy/protos";

const echo = defineService(dummyV1.DummyServiceService, {
  async execute(request, context) {
    if (request.input === "") throw new InvalidArgument("input must not be empty");
    context.log.debug({ input: request.input }, "echoing");
    return { output: request.input };
  },
  async *executeServerStream(request) {
    for (const output of request.input) yield { output };
  },
  async executeClientStream(requests) {
    let output = "";
    for await (const request of requests) output += request.input;
    return { output };
  },
  async *executeClientServerStream(requests) {
    for await (const request of requests) yield { output: request.input };
  },
});

const logger = createLogger({ name: "hello" });
const server = createServer({ services: [echo], config: readServerConfig(), logger });
await server.listen(); // health turns SERVING once listening
await runUntilSignalled(server); // SIGTERM/SIGINT: NOT_SERVING, drain, exit 0
