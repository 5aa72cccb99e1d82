/**
 * Bounds-checked reads over a byte array, for input we do not trust.
 *
 * lib0's decoder does not check lengths: `readUint8Array` happily returns a view past the end of
 * the array (into whatever else shares its ArrayBuffer, e.g. Node's socket buffer pool) and
 * `readUint8` returns `undefined`. Every read here throws `TruncatedInput` instead.
 */
import * as decoding from 'lib0/decoding'

export class TruncatedInput extends Error {
  constructor(what: string) {
    super(`truncated input: ${what}`)
  }
}

export class MalformedInput extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export class BoundedReader {
  private readonly decoder: decoding.Decoder

  constructor(bytes: Uint8Array) {
    this.decoder = decoding.createDecoder(bytes)
  }

  get remaining(): number {
    return this.decoder.arr.length - this.decoder.pos
  }

  get offset(): number {
    return this.decoder.pos
  }

  uint8(what: string): number {
    if (this.remaining < 1) throw new TruncatedInput(what)
    return decoding.readUint8(this.decoder)
  }

  varUint(what: string): number {
    try {
      return decoding.readVarUint(this.decoder)
    } catch {
      // lib0 throws for both an overrun and a value past 2^53; neither can come from a valid peer.
      throw new TruncatedInput(what)
    }
  }

  /** A count of things that each take at least `minBytes`: a claim the remaining bytes cannot hold is a lie. */
  count(what: string, minBytes: number): number {
    const n = this.varUint(what)
    if (n * minBytes > this.remaining) throw new MalformedInput(`${what}: ${n} claimed, input too short`)
    return n
  }

  varBytes(what: string): Uint8Array {
    const len = this.varUint(what)
    if (len > this.remaining) throw new TruncatedInput(what)
    return decoding.readUint8Array(this.decoder, len)
  }

  skip(len: number, what: string): void {
    if (len > this.remaining) throw new TruncatedInput(what)
    this.decoder.pos += len
  }

  varString(what: string): string {
    const bytes = this.varBytes(what)
    try {
      return utf8.decode(bytes)
    } catch {
      throw new MalformedInput(`${what}: invalid UTF-8`)
    }
  }

  end(what: string): void {
    if (this.remaining !== 0) throw new MalformedInput(`${what}: ${this.remaining} trailing bytes`)
  }
}
