/**
 * Keeps the pad page itself for offline use: the page and every file it can load go into the cache
 * the service worker (sw.ts) answers from when the network is gone. The list is the build's own
 * (the server names every file a page script can load in the page's head, client-assets.ts), not
 * what this visit happened to fetch: the preview's renderer is kept though it was never opened.
 */

/** The cache the service worker serves from; both sides must use this name. */
export const OFFLINE_CACHE = 'summitpad-v1'

/** Our own files this page names: its scripts, every chunk they can load, its styles and icon. */
function pageAssets(): string[] {
  const urls = new Set<string>()
  const add = (href: string) => {
    const url = new URL(href, location.href)
    if (url.origin === location.origin && url.pathname.startsWith('/assets/')) urls.add(url.pathname)
  }
  for (const link of document.querySelectorAll<HTMLLinkElement>('link[href]')) add(link.href)
  for (const script of document.querySelectorAll<HTMLScriptElement>('script[src]')) add(script.src)
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
