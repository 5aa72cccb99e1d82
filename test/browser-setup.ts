/**
 * Debian's Chromium for the browser tests and the screenshot script, driven by playwright-core:
 * installs the `chromium` package when it is missing (CI may start from a fresh machine; a browser
 * is never downloaded from anywhere else), launches it headless, and opens "people" — each in their
 * own BrowserContext, because pages of one context sync through BroadcastChannel and IndexedDB
 * and would hide what the server does.
 */
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { ensureDebianPackage } from './debian-packages.ts'

export const CHROMIUM = '/usr/bin/chromium'

/** An element as the tests read it inside the page (the tests compile without the DOM library). */
export interface PageElement {
  dataset: Record<string, string | undefined>
  textContent: string | null
}

/**
 * What the tests use of the page's globals, for functions that run inside the page: cast
 * `globalThis` to this there. `summitpad` is what the editor exposes for tests.
 */
export interface PageGlobals {
  summitpad?: {
    provider: { synced: boolean }
    view: { state: { doc: { toString(): string } } }
    encodeState(): Uint8Array
  }
  document: {
    querySelector(selector: string): PageElement | null
    documentElement: { scrollWidth: number }
  }
  localStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void }
  location: { pathname: string }
  getComputedStyle(el: PageElement): { opacity: string }
  caches: { match(url: string): Promise<unknown> }
  navigator?: { serviceWorker?: { controller: unknown } }
  indexedDB: { open(name: string): PageIdbRequest<PageIdbDatabase> }
}

/** The little of IndexedDB the tests read inside the page. */
export interface PageIdbRequest<T> {
  result: T
  error: unknown
  onsuccess: (() => void) | null
  onerror: (() => void) | null
}

export interface PageIdbDatabase {
  transaction(store: string): { objectStore(name: string): { getAll(): PageIdbRequest<Uint8Array[]> } }
  close(): void
}

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/** Installs Debian's `chromium` package when /usr/bin/chromium is missing. */
export function ensureChromium(): void {
  ensureDebianPackage(CHROMIUM, 'chromium')
}

/** `extraArgs`: more Chromium switches, e.g. `--host-resolver-rules` to give a test a host name. */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  ensureChromium()
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...ARGS, ...extraArgs],
    timeout: 30_000,
  })
}

export interface Person {
  name: string
  context: BrowserContext
  page: Page
  /** The person's Wi-Fi; see `PersonOptions.network`. */
  network: Network
}

/**
 * A cuttable link between a person's pages and the sync endpoint. Chromium's offline emulation
 * alone does not lose anything: it holds the frames of an open websocket and sends them when the
 * page closes or the network returns. A real dead network loses them, so `cut` drops every frame
 * both ways (and goes offline, so the browser says so and new sockets fail).
 */
export interface Network {
  cut(): Promise<void>
  restore(): Promise<void>
}

export interface PersonOptions {
  /** Viewport; a laptop by default. */
  viewport?: { width: number; height: number }
  /** A phone: touch, and the page laid out as a mobile browser would. */
  mobile?: boolean
  /** The browser's time zone (IANA), when it matters that it is not the event's. */
  timezoneId?: string
  /** Preset the cursor colour (#rrggbb; otherwise the page picks one at random). */
  color?: string
  /** Preset the remembered name so the name dialog does not ask (default true). */
  presetName?: boolean
  /**
   * Route the sync sockets through the test (default false: the browser's own sockets), so that
   * `network.cut()` loses frames as a dead network would. Without it, `cut` only goes offline.
   */
  network?: boolean
}

/** A new browser profile (context) with one page, not yet navigated. */
export async function newPerson(
  browser: Browser,
  name: string,
  options: PersonOptions = {},
): Promise<Person> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    isMobile: options.mobile ?? false,
    hasTouch: options.mobile ?? false,
    ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}),
  })
  context.setDefaultTimeout(30_000)
  if (options.presetName ?? true) {
    await context.addInitScript((n) => {
      const { localStorage } = globalThis as unknown as PageGlobals
      if (!localStorage.getItem('summitpad:name')) localStorage.setItem('summitpad:name', n)
    }, name)
  }
  let cut = false
  if (options.network) {
    await context.routeWebSocket(/\/sync\//, (ws) => {
      const server = ws.connectToServer()
      ws.onMessage((m) => {
        if (!cut) server.send(m)
      })
      server.onMessage((m) => {
        if (!cut) ws.send(m)
      })
    })
  }
  const network: Network = {
    cut: async () => {
      cut = true
      await context.setOffline(true)
    },
    restore: async () => {
      await context.setOffline(false)
      cut = false
    },
  }
  if (options.color) {
    await context.addInitScript((c) => {
      ;(globalThis as unknown as PageGlobals).localStorage.setItem('summitpad:color', c)
    }, options.color)
  }
  const page = await context.newPage()
  return { name, context, page, network }
}

/** Opens a pad and waits until the editor is there and has talked to the server once. */
export async function openPad(page: Page, baseUrl: string, padId: string): Promise<void> {
  await page.goto(`${baseUrl}/p/${padId}`)
  await waitForEditor(page)
}

export async function waitForEditor(page: Page): Promise<void> {
  await page.locator('.cm-content').waitFor()
  await page.waitForFunction(() => {
    const g = globalThis as unknown as PageGlobals
    return g.summitpad?.provider.synced === true
  })
}

/**
 * A person for one test: their own profile, closed when the test ends, and any script error on
 * their page fails the test (an editor that throws is a bug even when the text converged).
 */
export async function personInTest(
  browser: Browser,
  t: { after(fn: () => Promise<void>): void },
  name: string,
  options?: PersonOptions,
): Promise<Person> {
  const p = await newPerson(browser, name, options)
  const errors: string[] = []
  p.page.on('pageerror', (err) => errors.push(err.message))
  t.after(async () => {
    await p.context.close()
    if (errors.length) throw new Error(`${name}'s page threw: ${errors.join('; ')}`)
  })
  return p
}

/** Polls an async condition until it holds, or fails with `what`. */
export async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
