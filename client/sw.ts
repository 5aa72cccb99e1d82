/**
 * The service worker: lets a pad page open without a network. Pages and assets come from the
 * network when it answers (always fresh), and from the copy the page last kept when it does not.
 * The notes themselves are in IndexedDB (y-indexeddb), not here.
 *
 * Only the page writes that copy, all its files in one go (offline-copy.ts). A worker storing each
 * response as it passes could keep a page without the chunks its script imports, if the network
 * went away in between, and that page would open offline as an empty editor.
 */
/// <reference lib="webworker" />
import { OFFLINE_CACHE as CACHE } from './offline-copy.ts'

declare const self: ServiceWorkerGlobalScope

self.addEventListener('install', () => {
  void self.skipWaiting()
})
self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim())
})

/** Fresh from the network when it answers; the kept copy when it does not. */
async function networkFirst(request: Request): Promise<Response> {
  try {
    return await fetch(request)
  } catch {
    return (await caches.match(request, { cacheName: CACHE })) ?? Response.error()
  }
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (event.request.method !== 'GET' || url.origin !== location.origin) return
  if (url.pathname.startsWith('/assets/') || /^\/p\/[A-Za-z0-9._-]+$/.test(url.pathname)) {
    event.respondWith(networkFirst(event.request))
  }
})
