/**
 * The HTTP side: health, the JSON API under /api, the pages and their assets, ending in the one
 * 404 and the one error handler.
 */
import express, { type Express } from 'express'
import { createApiRouter } from './api-routes.ts'
import { errorHandler, notFound } from './http-errors.ts'
import type { Logger } from './logger.ts'
import type { Meetings } from './meetings.ts'
import type { Minutes } from './minutes.ts'
import { createMinutesRouter } from './minutes-routes.ts'
import { createPagesRouter } from './pages.ts'
import type { SearchIndex } from './search-index.ts'

export interface ServerStatus {
  padsLoaded: number
  connections: number
}

export interface HttpAppOptions {
  log: Logger
  meetings: Meetings
  minutes: Minutes
  search: SearchIndex
  status(): ServerStatus
  startedAt: number
}

export function createHttpApp(options: HttpAppOptions): Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)

  app.get('/healthz', (_req, res) => {
    res.json({
      status: 'ok',
      uptimeSeconds: Math.round((Date.now() - options.startedAt) / 1000),
      ...options.status(),
    })
  })

  app.use('/api', createMinutesRouter(options.minutes, options.search))
  app.use('/api', createApiRouter(options.meetings))
  app.use(createPagesRouter(options))
  app.use(notFound)
  app.use(errorHandler(options.log))
  return app
}
