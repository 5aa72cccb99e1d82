/**
 * The organiser's side of protected mode: an event's shareable links, and rotating them.
 * Both routes are class "admin" (route-classes.ts): only the admin token reaches them.
 */
import express, { type Request, type Router } from 'express'
import { z } from 'zod'
import { type EventLinks, type LinkKind, linkUrls } from '../access/event-links.ts'
import { HttpError } from './http-errors.ts'
import { asyncRoute } from './json-route.ts'
import { publicBase } from './pages.ts'

const rotateBody = z.strictObject({ link: z.enum(['edit', 'read']) })

export function createLinksRouter(
  links: EventLinks,
  rotated: (eventPk: number, kind: LinkKind) => void,
): Router {
  const api = express.Router()
  const secretsOf = async (req: Request) => {
    const secrets = await links.ofEvent(String(req.params.slug))
    if (!secrets) throw new HttpError(404, 'not_found', `no event "${req.params.slug}"`)
    return secrets
  }
  const noStore = { 'Cache-Control': 'no-store' }

  api.get(
    '/events/:slug/links',
    asyncRoute(async (req, res) => {
      res.set(noStore).json(linkUrls(publicBase(req), await secretsOf(req)))
    }),
  )

  api.post(
    '/events/:slug/links/rotate',
    asyncRoute(async (req, res) => {
      if (!req.is('application/json'))
        throw new HttpError(415, 'unsupported_media_type', 'expected a JSON body like {"link": "edit"}')
      const parsed = rotateBody.safeParse(req.body)
      if (!parsed.success) throw new HttpError(400, 'invalid', 'link: must be "edit" or "read"')
      const before = await secretsOf(req)
      const after = await links.rotate(before.slug, parsed.data.link)
      if (!after) throw new HttpError(404, 'not_found', `no event "${req.params.slug}"`)
      rotated(before.eventPk, parsed.data.link)
      res.set(noStore).json(linkUrls(publicBase(req), after))
    }),
  )

  return api
}
