/**
 * API routes of series: what a pad continues and what continues it, setting that link, and
 * "start the next meeting". Route -> validate -> access to the other meeting or event -> Series.
 */
import express, { type Request, type Router } from 'express'
import { z } from 'zod'
import { type AccessControl, atLeast, type Role, type Subject, tokensOf } from '../access/access.ts'
import { admitNewPad, type NewPadGate } from '../access/new-pad-gate.ts'
import type { Meetings } from '../meetings/meetings.ts'
import { parseTime } from '../meetings/schedule.ts'
import type { Series } from '../meetings/series.ts'
import { isValidIsoDateTime } from '../meetings/time.ts'
import { PAD_ID_MAX_LENGTH } from '../sync/pad-id.ts'
import { HttpError } from './http-errors.ts'
import { asyncRoute, jsonBodyOf } from './json-route.ts'

const padId = z
  .string()
  .regex(/^[A-Za-z0-9._-]+$/, 'must be a pad name: letters A-Z a-z, digits and . _ -')
  .max(PAD_ID_MAX_LENGTH)
const isoTime = z
  .string()
  .refine(isValidIsoDateTime, { message: 'must be a date and time, e.g. 2026-11-10T09:00' })

const continuesBody = z.strictObject({ continues: padId.nullable() })
const nextBody = z.strictObject({
  event: z.string().max(60).nullish(),
  title: z.string().trim().min(1).max(300).optional(),
  room: z.string().trim().max(200).nullish(),
  startsAt: isoTime.nullish(),
  endsAt: isoTime.nullish(),
})

export function createSeriesRouter(
  series: Series,
  meetings: Meetings,
  access: AccessControl,
  newPads: NewPadGate,
): Router {
  const api = express.Router()

  /** The route table checked the pad in the path; the other meeting or event is checked here. */
  const require = async (req: Request, subject: Subject, role: Role, what: string) => {
    if (!atLeast((await access.decide(subject, tokensOf(req))).role, role))
      throw new HttpError(403, 'forbidden', `your link does not give access to ${what}`)
  }

  api.get(
    '/pads/:id/series',
    asyncRoute(async (req, res) => {
      await meetings.pad(String(req.params.id))
      res.json(await series.neighbours(String(req.params.id)))
    }),
  )
  api.get(
    '/pads/:id/series/view',
    asyncRoute(async (req, res) => {
      const tokens = tokensOf(req)
      const canRead = async (id: string) =>
        atLeast((await access.decide({ kind: 'pad', padId: id }, tokens)).role, 'read')
      res.json(await series.view(String(req.params.id), canRead))
    }),
  )
  api.put(
    '/pads/:id/continues',
    asyncRoute(async (req, res) => {
      const { continues } = jsonBodyOf(req, continuesBody)
      if (continues !== null)
        await require(req, { kind: 'pad', padId: continues }, 'read', `pad "${continues}"`)
      res.json(await series.setContinues(String(req.params.id), continues))
    }),
  )
  api.post(
    '/pads/:id/next',
    asyncRoute(async (req, res) => {
      const input = jsonBodyOf(req, nextBody)
      const previous = await meetings.pad(String(req.params.id))
      const slug = input.event === undefined ? previous.event : input.event
      if (slug) await require(req, { kind: 'event', slug }, 'edit', `event "${slug}"`)
      else await require(req, { kind: 'site' }, 'admin', 'meetings outside an event (ask the organisers)')
      const zone = slug ? (await meetings.event(slug)).timezone : 'UTC'
      const time = (v: string | null | undefined) => (v ? parseTime(v, zone) : null)
      await admitNewPad(req, res, newPads)
      const { pad, created } = await series.startNext(previous.id, {
        event: slug,
        title: input.title,
        room: input.room ?? null,
        startsAt: time(input.startsAt),
        endsAt: time(input.endsAt),
      })
      res.status(created ? 201 : 200).json({ created, pad })
    }),
  )
  return api
}
