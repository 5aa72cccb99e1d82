/**
 * Keeps the pad page itself for offline use: the page and every asset it loaded go into the cache
 * the service worker (sw.ts) answers from when the network is gone. The worker caches what passes
 * through it, but on the first visit nothing does (it starts controlling the page only after the
 * page has loaded), so without this a pad opened once would not open again offline.
 */

/** The cache the service worker serves from; both sides must use this name. */
export const OFFLINE_CACHE = 'summitpad-v1'

export async function keepPageForOffline(): Promise<void> {
  const urls = new Set([location.pathname])
  for (const entry of performance.getEntriesByType('resource')) {
    const url = new URL(entry.name)
    if (url.origin === location.origin && url.pathname.startsWith('/assets/')) urls.add(url.pathname)
  }
  const cache = await caches.open(OFFLINE_CACHE)
  for (const url of urls) {
    if (!(await cache.match(url))) await cache.add(url)
  }
}
