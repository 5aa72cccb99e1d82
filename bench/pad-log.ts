/**
 * A realistic pad history for the cold-load and persistence scenarios: five people typing into one
 * Y.Text in bursts at their own cursors, about one keystroke in eight a backspace, one Yjs update
 * per keystroke. Seeded, so every run and every server loads the same bytes.
 */
import * as Y from 'yjs'
import { prng } from '../test/prng.ts'
import { TEXT_NAME } from './clients.ts'

export interface PadLog {
  /** One update per keystroke, in the order they were made. */
  updates: Uint8Array[]
  /** The pad's text after all of them. */
  text: string
  /** Names this log (count and seed), e.g. for a cache of what was built from it. */
  key: string
}

const WORDS =
  'attendees action item cgroup scheduler latency proposal consensus upstream patch series review ' +
  'maintainer kernel memory tiering io_uring rust bindings followup next steps notes: - * '

export function generatePadLog(keystrokes: number, seed = 20_26): PadLog {
  const random = prng(seed)
  const doc = new Y.Doc()
  const text = doc.getText(TEXT_NAME)
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  const authors = [101, 202, 303, 404, 505]
  // Each author's cursor, kept as a relative position so others' edits do not move it.
  const cursors = authors.map(() => Y.createRelativePositionFromTypeIndex(text, 0))
  let made = 0
  let char = 0
  while (made < keystrokes) {
    const who = Math.floor(random() * authors.length)
    doc.clientID = authors[who]!
    let at = Y.createAbsolutePositionFromRelativePosition(cursors[who]!, doc)?.index ?? text.length
    const burst = 5 + Math.floor(random() * 35)
    for (let k = 0; k < burst && made < keystrokes; k++, made++) {
      if (at > 0 && random() < 0.12) {
        text.delete(at - 1, 1)
        at--
      } else {
        text.insert(at, WORDS[char++ % WORDS.length]!)
        at++
      }
    }
    cursors[who] = Y.createRelativePositionFromTypeIndex(text, at)
  }
  const result = { updates, text: text.toString(), key: `${keystrokes}-${seed}` }
  doc.destroy()
  return result
}
