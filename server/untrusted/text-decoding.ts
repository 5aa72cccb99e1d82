/**
 * iconv-lite's API as body-parser and raw-body use it (encodingExists, decode, getDecoder), on
 * Node's own TextDecoder. The build puts this in place of iconv-lite (bin/build.ts `alias`): its
 * 530 KB of code tables were an eighth of the server bundle that every start compiled, for
 * charsets nobody sends to this API. TextDecoder knows every WHATWG encoding (what browsers send);
 * any other charset is refused by body-parser as unsupported (415), as iconv-lite's unknown ones are.
 */
import { TextDecoder } from 'node:util'

function decoderFor(encoding: string): TextDecoder | null {
  try {
    return new TextDecoder(encoding)
  } catch {
    return null
  }
}

export function encodingExists(encoding: string): boolean {
  return decoderFor(encoding) !== null
}

export function decode(bytes: Uint8Array, encoding: string): string {
  const decoder = decoderFor(encoding)
  if (!decoder) throw new Error(`Encoding not recognized: '${encoding}'`)
  return decoder.decode(bytes)
}

export function getDecoder(encoding: string): { write(bytes: Uint8Array): string; end(): string } {
  const decoder = decoderFor(encoding)
  if (!decoder) throw new Error(`Encoding not recognized: '${encoding}'`)
  return {
    write: (bytes) => decoder.decode(bytes, { stream: true }),
    end: () => decoder.decode(),
  }
}

export default { encodingExists, decode, getDecoder }
