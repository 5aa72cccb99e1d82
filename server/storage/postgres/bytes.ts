/** bytea in and out: PostgreSQL's driver speaks Buffer; the storage interfaces speak Uint8Array. */

/** A private copy of the caller's bytes, taken at the call: the caller may reuse its buffer. */
export const toBytea = (bytes: Uint8Array): Buffer => Buffer.from(bytes)

/** The driver's Buffer seen as a plain Uint8Array (no copy: the Buffer is this row's own). */
export const fromBytea = (buffer: Buffer): Uint8Array =>
  new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
