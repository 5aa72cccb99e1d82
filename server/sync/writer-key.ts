/**
 * The writer key a socket presents (`?writer=` in the stock client's `params`): a random secret
 * the editor keeps per browser with its offline copy of the pad. Yjs client ids first written
 * with a key can be continued only by sockets with the same key (see writer-check.ts). Only its
 * SHA-256 is kept, in memory and in storage: a copy of the database does not hand out keys.
 */
import { createHash } from 'node:crypto'

/** The query parameter that carries it. */
export const WRITER_PARAM = 'writer'

/**
 * At least 128 bits of base64url (the editor sends 256): short enough guesses would let anyone
 * continue someone else's text; the upper bound keeps a URL from being the payload.
 */
const WRITER_KEY = /^[A-Za-z0-9_-]{22,128}$/

/** Hex SHA-256 of a key: how it is compared and stored. */
export type WriterHash = string

/** The key's hash, null when the socket sent none (stock clients, bots), or 'invalid'. */
export function writerFromUrl(url: string | undefined): WriterHash | null | 'invalid' {
  const query = (url ?? '').split('?', 2)[1]
  if (query === undefined) return null
  const keys = new URLSearchParams(query).getAll(WRITER_PARAM)
  if (keys.length === 0) return null
  if (keys.length > 1 || !WRITER_KEY.test(keys[0]!)) return 'invalid'
  return createHash('sha256').update(keys[0]!).digest('hex')
}
