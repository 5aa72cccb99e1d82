/**
 * This browser's writer key for a pad: a random secret kept with the pad's offline copy (the
 * y-indexeddb database, in its `custom` store) and sent in the socket's `params`. The server lets
 * only this key continue the Yjs client ids first written with it, so nobody else can write
 * under them and erase what this browser typed offline. Kept with the offline copy because that
 * is what outlives a page load: edits restored from it after a reload arrive under the old
 * page's client id, and still belong to this key. Two tabs share the database, so they share
 * the key: it is read, or made, in one transaction, so two tabs opened at once agree on it.
 */
import type { IndexeddbPersistence } from 'y-indexeddb'

/** y-indexeddb's store for values of the application. */
const CUSTOM_STORE = 'custom'
const WRITER_KEY = 'writer'
/** 256 bits, base64url (the server takes 22-128 such characters). */
const KEY_BYTES = 32

function freshKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(KEY_BYTES))
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

/** The key, made and stored on first use. Call once the offline copy is loaded (`whenSynced`). */
export function writerKey(local: IndexeddbPersistence): Promise<string> {
  const db = local.db
  if (db === null) return Promise.reject(new Error('offline copy not open'))
  return new Promise((resolve, reject) => {
    const tx = db.transaction([CUSTOM_STORE], 'readwrite')
    const store = tx.objectStore(CUSTOM_STORE)
    let key: string | null = null
    const read = store.get(WRITER_KEY)
    read.onsuccess = () => {
      if (typeof read.result === 'string' && /^[A-Za-z0-9_-]{22,128}$/.test(read.result)) {
        key = read.result
        return
      }
      key = freshKey()
      store.put(key, WRITER_KEY)
    }
    tx.oncomplete = () => (key === null ? reject(new Error('no writer key')) : resolve(key))
    tx.onerror = () => reject(tx.error)
    tx.onabort = () => reject(tx.error)
  })
}
