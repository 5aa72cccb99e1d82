/**
 * A zip archive written as it is made (fflate's streaming `Zip`): each file is compressed and its
 * bytes handed to the sink before the next is read, so an archive of many large files holds one
 * file's worth of memory, not the whole archive (`zipSync` held every input and the output at once).
 * A "deferred" entry takes text piece by piece, compressed as it comes, and is written when finished
 * (for the combined minutes, built up across all the pads).
 */
import { strToU8, Zip, ZipDeflate } from 'fflate'

/** Receives the archive's bytes in order; a returned promise is waited for (backpressure). */
export type ZipSink = (chunk: Uint8Array) => Promise<void> | void

/** Compression level 6: zlib's default, the same as the bundle used before it was streamed. */
const LEVEL = 6

export interface DeferredEntry {
  push(text: string): void
  /** Adds the entry to the archive (after the files written so far) and writes it. */
  finish(): Promise<void>
}

export class ZipStream {
  private readonly sink: ZipSink
  private readonly zip: Zip
  private queued: Uint8Array[] = []
  private failure: Error | null = null

  constructor(sink: ZipSink) {
    this.sink = sink
    this.zip = new Zip((err, chunk) => {
      if (err) this.failure = err
      else this.queued.push(chunk)
    })
  }

  /** Compresses `text` as `name` and writes it. */
  async file(name: string, text: string): Promise<void> {
    const entry = new ZipDeflate(name, { level: LEVEL })
    this.zip.add(entry)
    entry.push(strToU8(text), true)
    await this.drain()
  }

  deferred(name: string): DeferredEntry {
    const entry = new ZipDeflate(name, { level: LEVEL })
    const compressed: Uint8Array[] = []
    // Not yet in the archive: collect the compressed bytes (and let ZipDeflate count size and CRC).
    entry.ondata = (err, chunk) => {
      if (err) this.failure = err
      else compressed.push(chunk)
    }
    return {
      push: (text) => entry.push(strToU8(text)),
      finish: async () => {
        entry.push(new Uint8Array(0), true)
        // Now the entry joins the archive: replay its bytes through the handler the zip installs.
        this.zip.add(entry)
        const handler = entry.ondata!
        for (const [i, chunk] of compressed.entries())
          handler(null, chunk as Uint8Array<ArrayBuffer>, i === compressed.length - 1)
        if (compressed.length === 0) entry.ondata!(null, new Uint8Array(0), true)
        compressed.length = 0
        await this.drain()
      },
    }
  }

  /** Writes the central directory. */
  async end(): Promise<void> {
    this.zip.end()
    await this.drain()
  }

  private async drain(): Promise<void> {
    if (this.failure) throw this.failure
    const chunks = this.queued
    this.queued = []
    for (const chunk of chunks) await this.sink(chunk)
  }
}
