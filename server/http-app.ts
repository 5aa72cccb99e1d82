/**
 * The HTTP side: express routes for health (and, as the product grows, the API and pages), ending
 * in the one 404 and the one error handler.
 */
import express, { type Express } from 'express'
import { errorHandler, notFound } from './http-errors.ts'
import type { Logger } from './logger.ts'

export interface ServerStatus {
  padsLoaded: number
  connections: number
}

export interface HttpAppOptions {
  log: Logger
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

  app.use(notFound)
  app.use(errorHandler(options.log))
  return app
}
