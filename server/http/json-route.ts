/** Helpers of the routers added with series and materials: a validated JSON body, async handlers. */
import type { NextFunction, Request, Response } from 'express'
import type { z } from 'zod'
import { HttpError } from './http-errors.ts'
import { plainIssue } from './plain-errors.ts'

export function jsonBodyOf<T extends z.ZodType>(req: Request, schema: T): z.infer<T> {
  if (!req.is('application/json'))
    throw new HttpError(
      415,
      'unsupported_media_type',
      'expected a JSON body (Content-Type: application/json)',
    )
  const result = schema.safeParse(req.body)
  if (result.success) return result.data
  throw new HttpError(400, 'invalid', plainIssue(result.error.issues[0]!))
}

/** Express 4 does not pass a rejected handler's error on by itself. */
export const asyncRoute =
  (handler: (req: Request, res: Response) => Promise<void>) =>
  (req: Request, res: Response, next: NextFunction) => {
    handler(req, res).catch(next)
  }
