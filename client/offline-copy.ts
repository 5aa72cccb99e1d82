/**
 * Keeps the pad page itself for offline use: the page and every asset it loaded go into the cache
 * the service worker (sw.ts) answers from when the network is gone. The worker caches what passes
 * through it, but on the first visit nothing does (it starts controlling the page only after the
 * page has loaded), so without this a pad opened once would not open again offline.
 */

/** The cache the service worker serves from; both sides must use this name. */
export const OFFLINE_CACHE = 'summitpad-v1'

/** Our own assets this page uses: what it loaded (chunks, the preview's renderer) and what it links. */
function pageAssets(): string[] {
  const urls = new Set<string>()
  const add = (href: string) => {
    const url = new URL(href, location.href)
    if (url.origin === location.origin && url.pathname.startsWith('/assets/')) urls.add(url.pathname)
  }
  for (const entry of performance.getEntriesByType('resource')) add(entry.name)
  // The icon is fetched by the browser itself and leaves no resource entry.
  for (const link of document.querySelectorAll<HTMLLinkElement>('link[href]')) add(link.href)
  return [...urls]
}

/**
 * Stores the page and its assets in one go: `addAll` keeps all of them or none. A page kept
 * without the chunks its script imports would open offline as an empty editor stuck on
 * "Connecting…", worse than no page at all; so a cached page always means a page that works.
 */
export async function keepPageForOffline(): Promise<void> {
  const cache = await caches.open(OFFLINE_CACHE)
  await cache.addAll([...pageAssets(), location.pathname])
}
