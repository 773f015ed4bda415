/**
 * Running a store service (`@obfy/kit/service`): one definition — name, ports, migrations, event
 * handlers, gRPC services — and the kit wires the rest the same way in every service: settings,
 * logs, metrics and traces, TLS and authorization, the database and its health, the event bus
 * and its outbox relay, dead letters, clients for other services, graceful shutdown.
 * @packageDocumentation
 */
export { runService } from "./run-service.js";
export {
  type BackgroundTask,
  type Peer,
  type RunningService,
  type ServiceDefinition,
  type ServiceDeps,
  type ServiceParts,
  type StartServiceOptions,
  startService,
} from "./start-service.js";
