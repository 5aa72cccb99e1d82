/**
 * An event's Atom feed at /api/events/<slug>/feed (read class: a protected event's feed needs
 * its read or edit link, given as `?token=` by feed readers). Under /api so a feed reader's
 * `?token=` is answered directly, not redirected into a cookie as pages are.
 */
import express, { type Router } from 'express'
import type { EventFeed } from '../minutes/event-feed.ts'
import { asyncRoute } from './json-route.ts'
import { publicBase } from './pages.ts'

export function createFeedRouter(feed: EventFeed): Router {
  const api = express.Router()
  api.get(
    '/events/:slug/feed',
    asyncRoute(async (req, res) => {
      const xml = await feed.atom(String(req.params.slug), publicBase(req))
      res.set({ 'Content-Type': 'application/atom+xml; charset=utf-8', 'X-Content-Type-Options': 'nosniff' })
      res.send(xml)
    }),
  )
  return api
}
