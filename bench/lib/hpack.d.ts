/** Types for `hpack` 1.0.0 (RFC 7541), which ships none; only what the bench uses. */
declare module "hpack" {
  /** One HPACK context: a decoder table for what it reads, an encoder table for what it writes. */
  export default class HPACK {
    /** Decodes one complete header block into `[name, value]` pairs, updating the decoder table. */
    decode(block: Buffer): [string, string][];
    /** Encodes header fields (with incremental indexing), updating the encoder table. */
    encode(fields: readonly (readonly [string, string])[]): Buffer;
    /** Announces a new encoder table size with the next encoded block. */
    setTableSize(size: number): void;
  }
}
