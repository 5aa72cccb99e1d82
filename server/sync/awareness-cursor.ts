/**
 * Whether an awareness `cursor` is one the editors' remote-cursor code can decode.
 *
 * y-codemirror.next hands `state.cursor.anchor` and `.head` straight to Yjs'
 * `createAbsolutePositionFromRelativePosition`, which trusts their shape: a string where an id
 * should be, a fractional clock or a root name other than the pad's text throws (or creates a
 * root type) in every other editor of the pad. The server drops such a cursor instead of relaying
 * it. Accepted: null, or `{anchor, head}` where each is a relative position as Yjs writes it for
 * the `notes` text — an item id `{client, clock}`, or the end of the text (`tname: "notes"`).
 */

/** The shared text the editor binds; the only root a cursor may name. */
const NOTES = 'notes'

const isUint = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

function isId(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false
  const id = v as { client?: unknown; clock?: unknown }
  return isUint(id.client) && isUint(id.clock)
}

function isRelativePosition(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const p = v as { type?: unknown; tname?: unknown; item?: unknown; assoc?: unknown }
  if (p.assoc != null && !(typeof p.assoc === 'number' && Number.isSafeInteger(p.assoc))) return false
  // A position inside a nested type: pads have none, so nothing to point at.
  if (p.type != null) return false
  if (p.item != null) return isId(p.item) && (p.tname == null || p.tname === NOTES)
  return p.tname === NOTES
}

/** True for a cursor other editors can show (or null: no cursor). */
export function cursorDecodes(cursor: unknown): boolean {
  if (cursor === null) return true
  if (typeof cursor !== 'object' || Array.isArray(cursor)) return false
  const c = cursor as { anchor?: unknown; head?: unknown }
  return isRelativePosition(c.anchor) && isRelativePosition(c.head)
}
