/**
 * Validates a Yjs (v1) update completely before anything applies it.
 *
 * Yjs itself is not safe on hostile input: it integrates the structs of an update before it reads
 * the delete set, so a truncated delete set throws after the text is already in the document;
 * and it allocates `new Array(count)` for a claimed struct count before reading a single struct,
 * so seven bytes can cost 160 MB. This walk mirrors Yjs' reader (`readClientsStructRefs`,
 * `readItemContent`, `readDeleteSet` in yjs 13.6) but allocates nothing per struct, bounds every
 * claimed count by the bytes left, and returns where each client's structs start, so the caller
 * can spot a gap in the sender's own clocks without a second parse.
 */
import { type BoundedReader, MalformedInput } from './bounded-reader.ts'
import { type Decoded, decodeWith } from './protocol.ts'

export interface UpdateShape {
  /** For each client with structs in the update: the clock its first struct starts at. */
  starts: Map<number, number>
  structCount: number
  deleteRangeCount: number
}

const BITS5 = 0b11111
const BIT6 = 0b100000
const BIT7 = 0b1000000
const BIT8 = 0b10000000

// Struct kinds by `info & BITS5`.
const GC = 0
const CONTENT_DELETED = 1
const CONTENT_JSON = 2
const CONTENT_BINARY = 3
const CONTENT_STRING = 4
const CONTENT_EMBED = 5
const CONTENT_FORMAT = 6
const CONTENT_TYPE = 7
const CONTENT_ANY = 8
const CONTENT_DOC = 9
const SKIP = 10

// Type refs of ContentType; XmlElement and XmlHook carry a node name.
const TYPE_REF_COUNT = 7
const TYPE_XML_ELEMENT = 3
const TYPE_XML_HOOK = 5

// lib0 `any` encoding tags.
const ANY_UNDEFINED = 127
const ANY_NULL = 126
const ANY_VARINT = 125
const ANY_FLOAT32 = 124
const ANY_FLOAT64 = 123
const ANY_BIGINT64 = 122
const ANY_FALSE = 121
const ANY_TRUE = 120
const ANY_STRING = 119
const ANY_OBJECT = 118
const ANY_ARRAY = 117
const ANY_BYTES = 116

/** Deeper nesting than this in an `any` value is not an edit anyone typed; it would only risk the stack. */
const MAX_ANY_DEPTH = 64

function readJsonText(reader: BoundedReader, what: string): void {
  const text = reader.varString(what)
  try {
    JSON.parse(text)
  } catch {
    throw new MalformedInput(`${what}: invalid JSON`)
  }
}

function skipVarInt(reader: BoundedReader, what: string): void {
  // A varInt ends at the first byte without the continuation bit; lib0 reads at most 8 bytes of it.
  for (let i = 0; ; i++) {
    if (i > 9) throw new MalformedInput(`${what}: integer too long`)
    if ((reader.uint8(what) & BIT8) === 0) return
  }
}

function skipAny(reader: BoundedReader, depth: number): void {
  if (depth > MAX_ANY_DEPTH) throw new MalformedInput('value nested too deeply')
  const tag = reader.uint8('value tag')
  switch (tag) {
    case ANY_UNDEFINED:
    case ANY_NULL:
    case ANY_FALSE:
    case ANY_TRUE:
      return
    case ANY_VARINT:
      return skipVarInt(reader, 'integer value')
    case ANY_FLOAT32:
      return reader.skip(4, 'float32 value')
    case ANY_FLOAT64:
    case ANY_BIGINT64:
      return reader.skip(8, 'float64 value')
    case ANY_STRING:
      reader.varString('string value')
      return
    case ANY_OBJECT: {
      // key (>= 1 byte) + value (>= 1 byte)
      const n = reader.count('object size', 2)
      for (let i = 0; i < n; i++) {
        reader.varString('object key')
        skipAny(reader, depth + 1)
      }
      return
    }
    case ANY_ARRAY: {
      const n = reader.count('array size', 1)
      for (let i = 0; i < n; i++) skipAny(reader, depth + 1)
      return
    }
    case ANY_BYTES:
      reader.varBytes('binary value')
      return
    default:
      throw new MalformedInput(`unknown value tag ${tag}`)
  }
}

/** Reads an item's content and returns its length in clock units. */
function readContent(reader: BoundedReader, kind: number): number {
  switch (kind) {
    case CONTENT_DELETED:
      return reader.varUint('deleted length')
    case CONTENT_JSON: {
      const n = reader.count('json content length', 1)
      for (let i = 0; i < n; i++) {
        const text = reader.varString('json content')
        if (text === 'undefined') continue
        try {
          JSON.parse(text)
        } catch {
          throw new MalformedInput('json content: invalid JSON')
        }
      }
      return n
    }
    case CONTENT_BINARY:
      reader.varBytes('binary content')
      return 1
    case CONTENT_STRING:
      // Yjs counts string length in UTF-16 code units.
      return reader.varString('string content').length
    case CONTENT_EMBED:
      readJsonText(reader, 'embed content')
      return 1
    case CONTENT_FORMAT:
      reader.varString('format key')
      readJsonText(reader, 'format value')
      return 1
    case CONTENT_TYPE: {
      const typeRef = reader.varUint('type ref')
      if (typeRef >= TYPE_REF_COUNT) throw new MalformedInput(`unknown type ref ${typeRef}`)
      if (typeRef === TYPE_XML_ELEMENT || typeRef === TYPE_XML_HOOK) reader.varString('xml node name')
      return 1
    }
    case CONTENT_ANY: {
      const n = reader.count('any content length', 1)
      for (let i = 0; i < n; i++) skipAny(reader, 0)
      return n
    }
    case CONTENT_DOC:
      // Pads are flat documents; a subdocument would make the server construct Docs from peer options.
      throw new MalformedInput('subdocuments are not supported')
    default:
      throw new MalformedInput(`unknown content kind ${kind}`)
  }
}

function readStructs(reader: BoundedReader, starts: Map<number, number>): number {
  // Each client section is at least: struct count, client, clock.
  const sections = reader.count('client section count', 3)
  let structCount = 0
  for (let s = 0; s < sections; s++) {
    // A struct is at least its info byte plus one byte of length or content.
    const n = reader.count('struct count', 2)
    const client = reader.varUint('client id')
    const clock = reader.varUint('clock')
    if (starts.has(client)) throw new MalformedInput(`client ${client} appears twice`)
    starts.set(client, clock)
    for (let i = 0; i < n; i++) {
      const info = reader.uint8('struct info')
      const kind = info & BITS5
      let length: number
      if (kind === GC || kind === SKIP) {
        length = reader.varUint('struct length')
      } else {
        if (info & BIT8) {
          reader.varUint('origin client')
          reader.varUint('origin clock')
        }
        if (info & BIT7) {
          reader.varUint('right origin client')
          reader.varUint('right origin clock')
        }
        if ((info & (BIT7 | BIT8)) === 0) {
          // No origin to copy the parent from: the parent is named (a root type) or an item id.
          if (reader.varUint('parent info') === 1) reader.varString('parent key')
          else {
            reader.varUint('parent client')
            reader.varUint('parent clock')
          }
          if (info & BIT6) reader.varString('parent sub key')
        }
        length = readContent(reader, kind)
      }
      // Yjs never writes an empty struct; one would share its id with the next and corrupt the store.
      if (length === 0) throw new MalformedInput('empty struct')
      structCount++
    }
  }
  return structCount
}

function readDeleteSet(reader: BoundedReader): number {
  // Each client entry is at least client + range count.
  const clients = reader.count('delete set client count', 2)
  let ranges = 0
  for (let c = 0; c < clients; c++) {
    reader.varUint('delete set client')
    // Each range is clock + length.
    const n = reader.count('delete range count', 2)
    for (let i = 0; i < n; i++) {
      reader.varUint('delete clock')
      if (reader.varUint('delete length') === 0) throw new MalformedInput('empty delete range')
    }
    ranges += n
  }
  return ranges
}

function readUpdate(reader: BoundedReader): UpdateShape {
  const starts = new Map<number, number>()
  const structCount = readStructs(reader, starts)
  const deleteRangeCount = readDeleteSet(reader)
  reader.end('update')
  return { starts, structCount, deleteRangeCount }
}

export function checkUpdate(update: Uint8Array): Decoded<UpdateShape> {
  return decodeWith(update, readUpdate)
}

function readStateVector(reader: BoundedReader): Map<number, number> {
  const n = reader.count('state vector size', 2)
  const sv = new Map<number, number>()
  for (let i = 0; i < n; i++) sv.set(reader.varUint('client id'), reader.varUint('clock'))
  reader.end('state vector')
  return sv
}

export function checkStateVector(stateVector: Uint8Array): Decoded<Map<number, number>> {
  return decodeWith(stateVector, readStateVector)
}
