/**
 * A protobuf message type as ts-proto generates it into `@obfy/protos` (with
 * `outputTypeAnnotations=static-only`, see buf.gen.yaml): its full name in `$type`, which becomes
 * the CloudEvent `type`, and its binary codec.
 */
export interface MessageType<T> {
  /** The full protobuf name, e.g. `bookstore.orders.events.v1.OrderPlaced`. */
  readonly $type: string;
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/** The full name of `type`, checked: a codec generated without type annotations has none. */
export function messageTypeName(type: MessageType<unknown>): string {
  const name = (type as { $type?: unknown }).$type;
  if (typeof name !== "string" || !/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$/.test(name)) {
    throw new TypeError(
      "not a generated protobuf message type: it has no $type with its full name (ts-proto needs outputTypeAnnotations=static-only)",
    );
  }
  return name;
}
