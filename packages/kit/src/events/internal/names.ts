// Names of exchanges and queues, the same on both transports. A service's subscriptions share
// one queue named after the service; a task type has a queue named after its protobuf message.

/** Service names: lower-case letters, digits, "-" and "_", as in deploy/ and compose.yaml. */
const SERVICE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/** Checks a service name used as a CloudEvents source and as the name of its subscription queue. */
export function checkServiceName(service: string): string {
  if (!SERVICE_NAME.test(service)) {
    throw new Error(
      `service must be 1-63 lower-case letters, digits, "-" or "_", starting with a letter, got ${JSON.stringify(service)}`,
    );
  }
  return service;
}

/** The queue of the events a service subscribes to: the service's name. */
export function subscriptionQueue(service: string): string {
  return service;
}

/** The work queue of a task type: its full protobuf name. */
export function taskQueue(type: string): string {
  return type;
}

/** The queue an operator means by `queue` in the dead-letter command, with the namespace. */
export function physicalName(namespace: string, logical: string): string {
  return `${namespace}${logical}`;
}

/** The dead-letter queue of `queue`. */
export function deadLetterQueue(queue: string): string {
  return `${queue}.dead-letters`;
}

/** RabbitMQ: the delay queue for messages of `queue` that failed `level` times. */
export function retryQueue(queue: string, level: number): string {
  return `${queue}.retry.${level}`;
}

/** RabbitMQ: the topic exchange of every event, routed by event type. */
export function eventsExchange(namespace: string): string {
  return `${namespace}events`;
}
