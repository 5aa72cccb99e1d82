/**
 * Only text in `notes`: refuses updates that would put anything but plain characters into the
 * pad's `notes` Y.Text.
 *
 * The editor binds `notes` to CodeMirror as a string. An embed, a formatting attribute, a nested
 * type or a map entry inside it makes `length` differ from `toString().length`, and every other
 * editor's binding then throws on edits near it. Other shared types of the document are left
 * alone (bots may keep their own), except the server's own map (SERVER_MAP: who restored what),
 * which editors trust because no client can add to it. Content already stored is never checked
 * again: old pads with such content still load and export, and clients re-sending it are not refused.
 *
 * Where an item lands is not in its bytes when it has an origin: Yjs copies the parent (and the
 * map key) from its left origin, else its right one, when it integrates. So each new item's parent
 * is resolved the same way, through the update's own items and then the document's, without
 * applying anything.
 */
import * as Y from 'yjs'
import { SERVER_MAP } from '../../shared/history.ts'

/** The pad's text, as the editor binds it. */
export const NOTES_TEXT = 'notes'

/**
 * Where an item lands: in `notes` (directly, or inside something inside it), in the server's map,
 * elsewhere, or nowhere (gc).
 */
type Place = 'notes-text' | 'notes-map' | 'notes-nested' | 'server' | 'elsewhere' | 'gone'

const rootPlace = (key: string, sub: string | null): Place =>
  key === SERVER_MAP ? 'server' : key !== NOTES_TEXT ? 'elsewhere' : sub === null ? 'notes-text' : 'notes-map'

/** An item inside a type that is at `outer`. */
const nestedPlace = (outer: Place): Place =>
  outer === 'elsewhere' || outer === 'gone' || outer === 'server' ? outer : 'notes-nested'

type Struct = Y.Item | Y.GC | Y.Skip

interface UpdateItems {
  /** Per client, the update's structs in clock order. */
  byClient: Map<number, Struct[]>
}

function findInUpdate(items: UpdateItems, id: Y.ID): Struct | undefined {
  const list = items.byClient.get(id.client)
  if (!list) return undefined
  let lo = 0
  let hi = list.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const s = list[mid]!
    if (id.clock < s.id.clock) hi = mid - 1
    else if (id.clock >= s.id.clock + s.length) lo = mid + 1
    else return s
  }
  return undefined
}

/** Where a type of the live document sits. */
function placeOfType(type: Y.AbstractType<unknown>, sub: string | null): Place {
  const item = type._item
  if (item === null) return rootPlace(Y.findRootTypeKey(type), sub)
  return nestedPlace(placeOfDocItem(item))
}

function placeOfDocItem(item: Y.Item): Place {
  return item.parent ? placeOfType(item.parent as Y.AbstractType<unknown>, item.parentSub) : 'gone'
}

class Resolver {
  private readonly doc: Y.Doc
  private readonly items: UpdateItems
  private readonly memo = new Map<Struct, Place>()

  constructor(doc: Y.Doc, items: UpdateItems) {
    this.doc = doc
    this.items = items
  }

  /** The struct an id names: the update's own first, then the document's; undefined when neither has it. */
  private lookup(id: Y.ID): Struct | undefined {
    const own = findInUpdate(this.items, id)
    if (own) return own
    if (id.clock >= Y.getState(this.doc.store, id.client)) return undefined
    return Y.getItem(this.doc.store, id) as Y.Item | Y.GC
  }

  private placeOfRef(id: Y.ID): Place | null {
    const s = this.lookup(id)
    if (s === undefined || s instanceof Y.Skip) return null
    if (s instanceof Y.GC) return 'gone'
    return findInUpdate(this.items, id) === s ? this.place(s) : placeOfDocItem(s)
  }

  /** Iterative over origin chains: a pasted paragraph is a chain of thousands of items. */
  place(start: Y.Item): Place {
    const chain: Y.Item[] = []
    let item: Y.Item = start
    let place: Place | null = null
    for (;;) {
      const known = this.memo.get(item)
      if (known !== undefined) {
        place = known
        break
      }
      chain.push(item)
      const parent = item.parent as unknown
      if (typeof parent === 'string') {
        place = rootPlace(parent, item.parentSub)
        break
      }
      if (parent instanceof Y.ID) {
        const outer = this.placeOfRef(parent)
        place = nestedPlace(outer ?? 'gone')
        break
      }
      // No parent in the bytes: Yjs takes it from the left origin, else the right one; a GC'd
      // neighbour makes the item itself garbage.
      const left = item.origin ? this.lookup(item.origin) : undefined
      const right = item.rightOrigin ? this.lookup(item.rightOrigin) : undefined
      if (left instanceof Y.GC || right instanceof Y.GC) {
        place = 'gone'
        break
      }
      const next = left instanceof Y.Item ? left : right instanceof Y.Item ? right : undefined
      if (next === undefined) {
        place = 'gone'
        break
      }
      if (findInUpdate(this.items, next.id) !== next) {
        place = placeOfDocItem(next)
        break
      }
      item = next
    }
    for (const it of chain) this.memo.set(it, place)
    return place
  }
}

function contentName(content: Y.Item['content']): string {
  if (content instanceof Y.ContentEmbed) return 'an embed'
  if (content instanceof Y.ContentFormat) return 'formatting'
  if (content instanceof Y.ContentType) return 'a nested type'
  return 'other content'
}

/**
 * Null when every new item of `update` that lands in `notes` is plain text (or a deletion);
 * otherwise why not. Call only for updates whose dependencies the document holds.
 */
export function notesTextRefusal(doc: Y.Doc, update: Uint8Array): string | null {
  const { structs } = Y.decodeUpdate(update)
  const byClient = new Map<number, Struct[]>()
  for (const s of structs as Struct[]) {
    const list = byClient.get(s.id.client)
    if (list) list.push(s)
    else byClient.set(s.id.client, [s])
  }
  const resolver = new Resolver(doc, { byClient })
  for (const s of structs as Struct[]) {
    if (!(s instanceof Y.Item)) continue
    // Already in the pad: re-sent by a reconnecting client, never checked again.
    if (s.id.clock + s.length <= Y.getState(doc.store, s.id.client)) continue
    const place = resolver.place(s)
    if (place === 'elsewhere' || place === 'gone') continue
    if (place === 'server') return `the "${SERVER_MAP}" map is written by the server only`
    if (place === 'notes-map') return 'the notes text takes no attributes'
    if (place === 'notes-nested') return 'the notes text takes no nested content'
    if (!(s.content instanceof Y.ContentString || s.content instanceof Y.ContentDeleted))
      return `the notes text takes only text, not ${contentName(s.content)}`
  }
  return null
}
