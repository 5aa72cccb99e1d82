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
import { type BoundedReader, MalformedInput } from '../../shared/bounded-reader.ts'
import { type Decoded, decodeWith } from '../../shared/protocol.ts'

export interface UpdateShape {
  /** For each client with structs in the update: the clock its first struct starts at. */
  starts: Map<number, number>
  /** For each client with structs in the update: the clock just after its last struct. */
  ends: Map<number, number>
  /**
   * Items outside its own sections the update refers to (origins, parents): per client, the
   * lowest clock that must already exist (highest referenced clock + 1).
   */
  needs: Map<number, number>
  structCount: number
  deleteRangeCount: number
  /** The highest clock the update's own structs reach (exclusive): the clocks it creates. */
  reach: number
  /** The highest clock its deletions reach (exclusive). */
  deleteReach: number
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

/**
 * JSON text Yjs will parse and later re-stringify: it must parse, and nest no deeper than
 * MAX_ANY_DEPTH (JSON.parse takes 10,000 levels; JSON.stringify then overflows the stack).
 */
function checkJsonText(text: string, what: string): void {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_ANY_DEPTH) throw new MalformedInput(`${what}: nested too deeply`)
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  try {
    JSON.parse(text)
  } catch {
    throw new MalformedInput(`${what}: invalid JSON`)
  }
}

function readJsonText(reader: BoundedReader, what: string): void {
  checkJsonText(reader.varString(what), what)
}

function skipVarInt(reader: BoundedReader, what: string): void {
  // As lib0's readVarInt: 6 value bits in the first byte (after continuation and sign), then 7 per
  // byte; it throws once the value passes 2^53 with more bytes to come, so we refuse that too.
  let byte = reader.uint8(what)
  let num = byte & 0b111111
  let mult = 64
  while (byte & BIT8) {
    byte = reader.uint8(what)
    num += (byte & 0b1111111) * mult
    mult *= 128
    if (num > Number.MAX_SAFE_INTEGER) throw new MalformedInput(`${what}: integer out of range`)
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
        if (text !== 'undefined') checkJsonText(text, 'json content')
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

function readStructs(
  reader: BoundedReader,
  starts: Map<number, number>,
  ends: Map<number, number>,
  needs: Map<number, number>,
): number {
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
    let next = clock
    /** An id must not point at this client's own struct or a later one: Yjs would throw mid-apply. */
    const readId = (what: string) => {
      const refClient = reader.varUint(`${what} client`)
      const refClock = reader.varUint(`${what} clock`)
      if (refClient === client && refClock >= next) throw new MalformedInput(`${what} refers forward`)
      if (refClient !== client || refClock < clock)
        needs.set(refClient, Math.max(needs.get(refClient) ?? 0, refClock + 1))
    }
    for (let i = 0; i < n; i++) {
      const info = reader.uint8('struct info')
      const kind = info & BITS5
      let length: number
      if (kind === GC || kind === SKIP) {
        length = reader.varUint('struct length')
      } else {
        if (info & BIT8) readId('origin')
        if (info & BIT7) readId('right origin')
        if ((info & (BIT7 | BIT8)) === 0) {
          // No origin to copy the parent from: the parent is named (a root type) or an item id.
          if (reader.varUint('parent info') === 1) reader.varString('parent key')
          else readId('parent')
          if (info & BIT6) reader.varString('parent sub key')
        }
        length = readContent(reader, kind)
      }
      // Yjs never writes an empty struct; one would share its id with the next and corrupt the store.
      if (length === 0) throw new MalformedInput('empty struct')
      next += length
      structCount++
    }
    ends.set(client, next)
  }
  return structCount
}

function readDeleteSet(reader: BoundedReader): { ranges: number; reach: number } {
  // Each client entry is at least client + range count.
  const clients = reader.count('delete set client count', 2)
  let ranges = 0
  let reach = 0
  for (let c = 0; c < clients; c++) {
    reader.varUint('delete set client')
    // Each range is clock + length.
    const n = reader.count('delete range count', 2)
    for (let i = 0; i < n; i++) {
      const clock = reader.varUint('delete clock')
      const length = reader.varUint('delete length')
      if (length === 0) throw new MalformedInput('empty delete range')
      reach = Math.max(reach, clock + length)
    }
    ranges += n
  }
  return { ranges, reach }
}

function readUpdate(reader: BoundedReader): UpdateShape {
  const starts = new Map<number, number>()
  const ends = new Map<number, number>()
  const needs = new Map<number, number>()
  const structCount = readStructs(reader, starts, ends, needs)
  const deletes = readDeleteSet(reader)
  reader.end('update')
  let reach = 0
  for (const end of ends.values()) reach = Math.max(reach, end)
  return {
    starts,
    ends,
    needs,
    structCount,
    deleteRangeCount: deletes.ranges,
    reach,
    deleteReach: deletes.reach,
  }
}

export function checkUpdate(update: Uint8Array): Decoded<UpdateShape> {
  return decodeWith(update, readUpdate)
}

/**
 * Clocks (and clock + length) an update may reach: 2^40, a million times more characters than the
 * largest pad could ever be typed with, and far below 2^53, where clocks stop being exact: lib0
 * reads varints up to ~2^56, and two items whose clocks round to one id make Yjs integrate the
 * second without an update event (never logged nor broadcast, yet served from memory).
 */
export const MAX_CLOCK = 2 ** 40

/**
 * Whether an update stays within the bounds; one that does not is refused whole. The clocks it
 * creates (its structs) stay within MAX_CLOCK. What it refers to is not bounded here: a reference
 * must name an item that exists (else `lacksDependencies`), and in a pad stored before the bound
 * an honest edit next to, or a deletion of, an item past it must still go through; a deletion
 * only has to stay exact (below 2^53), for nothing past MAX_CLOCK can be created any more.
 * Kept out of `checkUpdate`, which also reads stored snapshots: pads stored before still load.
 */
export function withinClockBound(shape: UpdateShape): boolean {
  return shape.reach <= MAX_CLOCK && shape.deleteReach <= Number.MAX_SAFE_INTEGER
}

/**
 * Whether applying the update to a document whose clocks are `stateOf(client)` would leave
 * structs waiting for something it lacks: a gap before a section, or a reference to an item
 * neither the document nor the update holds. Such an update is never applied (Yjs would park
 * it, and re-encoding a parked struct can even throw); the sender is asked for what is missing.
 */
export function lacksDependencies(shape: UpdateShape, stateOf: (client: number) => number): boolean {
  for (const [client, start] of shape.starts) if (start > stateOf(client)) return true
  for (const [client, need] of shape.needs) {
    const have = Math.max(stateOf(client), shape.starts.has(client) ? shape.ends.get(client)! : 0)
    if (need > have) return true
  }
  return false
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
