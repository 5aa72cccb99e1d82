/**
 * A session's materials: the links its schedule gives (pads.links, replaced by each re-import)
 * merged with those added or removed by hand (materials-store.ts, kept across re-imports). The
 * pages and every export read a pad through `withMaterials`, so they all show the same list.
 */
import { Invalid, NotFound } from '../lib/domain-errors.ts'
import type { HandMaterial, MaterialsRepo } from '../storage/materials-store.ts'
import { materialKindOf } from './material-kinds.ts'
import type { Meetings } from './meetings.ts'
import type { Material, MaterialKind, PadInfo, PadLink } from './model.ts'

/** Longest material address: past browsers' and mail clients' comfort; longer is data, not a link. */
export const MAX_MATERIAL_URL_LENGTH = 2000
/** Materials a session may carry (the schedule's and the hand-added together): a page, not a library. */
export const MAX_MATERIALS = 50

/** Why `url` is not a material's address, or null: http(s) only, so no `javascript:` or `file:` link is ever shown. */
export function materialUrlProblem(url: string): string | null {
  if (url.length > MAX_MATERIAL_URL_LENGTH)
    return `url: a material's address is at most ${MAX_MATERIAL_URL_LENGTH} characters`
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase()
  if (scheme !== 'http' && scheme !== 'https')
    return `url: materials are http:// or https:// links only${scheme ? ` (not ${scheme.slice(0, 20)}:)` : ''}`
  if (!URL.canParse(url) || /\s/.test(url)) return 'url: not a valid web address'
  return null
}

export function mergeMaterials(schedule: readonly PadLink[], hand: readonly HandMaterial[]): Material[] {
  const removed = new Set(hand.filter((h) => h.state === 'removed').map((h) => h.url))
  const out: Material[] = []
  for (const l of schedule) {
    if (removed.has(l.url)) continue
    out.push({
      kind: l.kind ?? materialKindOf(l.title, l.url),
      title: l.title,
      url: l.url,
      source: 'schedule',
    })
  }
  for (const h of hand) {
    if (h.state !== 'added' || out.some((m) => m.url === h.url)) continue
    out.push({ kind: h.kind, title: h.title, url: h.url, source: 'hand' })
  }
  return out.slice(0, MAX_MATERIALS)
}

const asLinks = (materials: readonly Material[]): PadLink[] =>
  materials.map((m) => ({ title: m.title, url: m.url, kind: m.kind }))

export interface MaterialInput {
  kind?: MaterialKind
  title?: string | null
  url: string
}

export class Materials {
  constructor(private readonly d: { meetings: Meetings; store: MaterialsRepo }) {}

  async of(padId: string): Promise<Material[]> {
    const pad = await this.d.meetings.pad(padId)
    return mergeMaterials(pad.links, await this.d.store.ofPad(pad.id))
  }

  /** The pad with its materials as its links (what the pages and exports show). */
  async withMaterials(pad: PadInfo): Promise<PadInfo> {
    return { ...pad, links: asLinks(mergeMaterials(pad.links, await this.d.store.ofPad(pad.id))) }
  }

  /** The pad's materials as links, or undefined for a pad without metadata (an export reads it as it is). */
  async findOf(padId: string): Promise<PadLink[] | undefined> {
    const pad = await this.d.meetings.findPad(padId)
    return pad ? asLinks(mergeMaterials(pad.links, await this.d.store.ofPad(pad.id))) : undefined
  }

  /** Every pad of the event with its materials as its links, by pad id. */
  async linksOfEvent(slug: string): Promise<Map<string, PadLink[]>> {
    const hand = await this.d.store.ofEvent(slug)
    const out = new Map<string, PadLink[]>()
    for (const pad of await this.d.meetings.pads({ event: slug }))
      out.set(pad.id, asLinks(mergeMaterials(pad.links, hand.get(pad.id) ?? [])))
    return out
  }

  async add(padId: string, input: MaterialInput): Promise<Material[]> {
    const problem = materialUrlProblem(input.url)
    if (problem) throw new Invalid(problem, 'invalid_url')
    const current = await this.of(padId)
    if (current.length >= MAX_MATERIALS && !current.some((m) => m.url === input.url))
      throw new Invalid(`a session carries at most ${MAX_MATERIALS} materials`, 'too_many')
    const title = input.title?.trim() || null
    await this.d.store.put(padId, {
      url: input.url,
      state: 'added',
      kind: input.kind ?? materialKindOf(title, input.url),
      title,
      at: Date.now(),
    })
    return this.of(padId)
  }

  /** Removes a material: a hand-added one is deleted; the schedule's is hidden, also from later re-imports. */
  async remove(padId: string, url: string): Promise<Material[]> {
    const found = (await this.of(padId)).find((m) => m.url === url)
    if (!found) throw new NotFound('this session has no material at that address')
    if (found.source === 'hand') await this.d.store.remove(padId, url)
    else
      await this.d.store.put(padId, {
        url,
        state: 'removed',
        kind: found.kind,
        title: found.title,
        at: Date.now(),
      })
    return this.of(padId)
  }
}
