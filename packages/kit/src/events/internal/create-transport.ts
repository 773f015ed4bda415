import { createLogger, type Logger } from "../../logger.js";
import type { EventBusConfig } from "../config.js";
import { createAmqpTransport } from "./amqp-transport.js";
import { createPostgresTransport } from "./postgres-transport.js";
import type { Transport } from "./transport.js";

/** The transport `EVENT_BUS` names. */
export function createTransport(
  config: EventBusConfig,
  options: { service: string; logger?: Logger | undefined },
): Transport {
  const logger = options.logger ?? createLogger({ name: options.service });
  const settings = { service: options.service, logger };
  return config.transport === "amqp"
    ? createAmqpTransport(config, settings)
    : createPostgresTransport(config, settings);
}
