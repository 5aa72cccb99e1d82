/**
 * The service worker: lets a pad page open without a network. Pages and assets are network-first
 * (always fresh when online), with the last good copy as the offline fallback.
 * The notes themselves are in IndexedDB (y-indexeddb), not here.
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

/** Fresh from the network when it answers; the last good copy when it does not. */
async function networkFirst(request: Request): Promise<Response> {
  try {
    const res = await fetch(request)
    if (res.ok) {
      const copy = res.clone()
      void caches.open(CACHE).then((c) => c.put(request, copy))
    }
    return res
  } catch {
    return (await caches.match(request)) ?? Response.error()
  }
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (event.request.method !== 'GET' || url.origin !== location.origin) return
  if (url.pathname.startsWith('/assets/') || /^\/p\/[A-Za-z0-9._-]+$/.test(url.pathname)) {
    event.respondWith(networkFirst(event.request))
  }
})
