/**
 * The HTTP JSON API under /api: route -> validate (zod, unknown fields refused) -> Meetings ->
 * JSON. Every error leaves through the one error handler as `{ error: { code, message } }`.
 */
import express, { type Request, type Router } from 'express'
import { z } from 'zod'
import { admitNewPad, type NewPadGate } from '../access/new-pad-gate.ts'
import type { Meetings } from '../meetings/meetings.ts'
import { PAD_KINDS, type PadKind } from '../meetings/model.ts'
import { parseTime } from '../meetings/schedule.ts'
import { isValidIsoDateTime, isValidTimeZone } from '../meetings/time.ts'
import { PAD_ID_MAX_LENGTH } from '../sync/pad-id.ts'
import { HttpError } from './http-errors.ts'
import { asyncRoute } from './json-route.ts'
import { plainIssue } from './plain-errors.ts'
import { onlyAdminNames } from './route-classes.ts'

const slug = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$/,
    'must be 1 to 60 lower-case letters, digits and dashes (not first or last), e.g. "lpc-2026"',
  )
const day = z.iso.date({ message: 'must be a date, YYYY-MM-DD' })
const timeZone = z
  .string()
  .refine(isValidTimeZone, { message: 'must be a time zone name such as "Europe/Prague"' })
const text = (max: number) => z.string().trim().max(max)
const isoTime = z
  .string()
  .refine(isValidIsoDateTime, { message: 'must be a date and time, e.g. 2026-11-10T09:00' })
const link = z
  .strictObject({ title: text(300).nullish(), url: z.url({ protocol: /^https?$/ }) })
  .transform((l) => ({ title: l.title ?? null, url: l.url }))

const eventCreate = z.strictObject({
  slug,
  name: text(200).min(1),
  startsOn: day.nullish(),
  endsOn: day.nullish(),
  timezone: timeZone.optional(),
  description: text(5000).nullish(),
})
const eventPatch = eventCreate.partial()

const padFields = {
  title: text(300).min(1),
  kind: z.enum(PAD_KINDS),
  track: text(200).nullish(),
  room: text(200).nullish(),
  startsAt: isoTime.nullish(),
  endsAt: isoTime.nullish(),
  speakers: z.array(text(200).min(1)).max(50).optional(),
  links: z.array(link).max(50).optional(),
}
const padCreate = z.strictObject({
  ...padFields,
  id: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'must only hold letters A-Z a-z, digits and . _ -')
    .max(PAD_ID_MAX_LENGTH)
    .optional(),
  event: slug.nullish(),
})
const padPatch = z.strictObject({ ...padFields, event: slug.nullable(), cancelled: z.boolean() }).partial()
const templateBody = z.strictObject({ body: z.string().max(100_000) })
const kindParam = z.enum(PAD_KINDS)

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  if (value === undefined)
    throw new HttpError(
      415,
      'unsupported_media_type',
      'expected a JSON body (Content-Type: application/json)',
    )
  const result = schema.safeParse(value)
  if (result.success) return result.data
  throw new HttpError(400, 'invalid', plainIssue(result.error.issues[0]!))
}

/** A JSON request body, validated; any other content type is the client's mistake (415). */
function jsonBody<T extends z.ZodType>(req: Request, schema: T): z.infer<T> {
  if (!req.is('application/json')) {
    throw new HttpError(
      415,
      'unsupported_media_type',
      'expected a JSON body (Content-Type: application/json)',
    )
  }
  return parse(schema, req.body)
}

const kindOf = (req: Request): PadKind => parse(kindParam, req.params.kind)
const param = (req: Request, name: string): string => String(req.params[name])

/** Times in a request are ISO with an offset; a time without one is read in the event's zone. */
function toMs(value: string | null | undefined, zone: string): number | null | undefined {
  if (value === undefined) return undefined
  return value === null ? null : parseTime(value, zone)
}

export interface ApiHooks {
  /** The per-address new-pad limit, shared with sockets opening new names. */
  newPads: NewPadGate
}

export function createApiRouter(meetings: Meetings, hooks: ApiHooks): Router {
  const api = express.Router()

  const zoneOf = async (eventSlug: string | null | undefined) =>
    eventSlug ? (await meetings.event(eventSlug)).timezone : 'UTC'

  // ---- events
  api.get(
    '/events',
    asyncRoute(async (_req, res) => {
      res.json({ events: await meetings.events() })
    }),
  )
  api.post(
    '/events',
    asyncRoute(async (req, res) => {
      const body = jsonBody(req, eventCreate)
      const event = await meetings.createEvent({
        slug: body.slug,
        name: body.name,
        startsOn: body.startsOn ?? null,
        endsOn: body.endsOn ?? null,
        timezone: body.timezone ?? 'UTC',
        description: body.description ?? null,
      })
      res.status(201).location(`/api/events/${event.slug}`).json(event)
    }),
  )
  api.get(
    '/events/:slug',
    asyncRoute(async (req, res) => {
      res.json(await meetings.event(param(req, 'slug')))
    }),
  )
  api.patch(
    '/events/:slug',
    asyncRoute(async (req, res) => {
      res.json(await meetings.updateEvent(param(req, 'slug'), jsonBody(req, eventPatch)))
    }),
  )
  api.delete(
    '/events/:slug',
    asyncRoute(async (req, res) => {
      res.json(await meetings.deleteEvent(param(req, 'slug')))
    }),
  )
  api.get(
    '/events/:slug/pads',
    asyncRoute(async (req, res) => {
      res.json({ pads: await meetings.pads({ event: param(req, 'slug') }) })
    }),
  )
  api.post(
    '/events/:slug/pads',
    asyncRoute(async (req, res) => {
      const body = jsonBody(req, padCreate)
      if (body.event !== undefined && body.event !== param(req, 'slug')) {
        throw new HttpError(400, 'invalid', 'event: differs from the event in the URL')
      }
      if (body.id !== undefined) onlyAdminNames(res)
      await meetings.event(param(req, 'slug'))
      await admitNewPad(req, res, hooks.newPads)
      res
        .status(201)
        .json(
          await createPad(meetings, { ...body, event: param(req, 'slug') }, await zoneOf(param(req, 'slug'))),
        )
    }),
  )
  api.get(
    '/events/:slug/presence',
    asyncRoute(async (req, res) => {
      const pads = await meetings.pads({ event: param(req, 'slug') })
      res.json({ pads: Object.fromEntries(await meetings.presenceOf(pads.map((p) => p.id))) })
    }),
  )
  api.get(
    '/events/:slug/templates/:kind',
    asyncRoute(async (req, res) => {
      res.json(await meetings.template(param(req, 'slug'), kindOf(req)))
    }),
  )
  api.put(
    '/events/:slug/templates/:kind',
    asyncRoute(async (req, res) => {
      const body = typeof req.body === 'string' ? req.body : jsonBody(req, templateBody).body
      await meetings.setTemplate(param(req, 'slug'), kindOf(req), body)
      res.json(await meetings.template(param(req, 'slug'), kindOf(req)))
    }),
  )
  api.delete(
    '/events/:slug/templates/:kind',
    asyncRoute(async (req, res) => {
      await meetings.resetTemplate(param(req, 'slug'), kindOf(req))
      res.json(await meetings.template(param(req, 'slug'), kindOf(req)))
    }),
  )
  api.get(
    '/templates/:kind',
    asyncRoute(async (req, res) => {
      res.json(await meetings.template(null, kindOf(req)))
    }),
  )

  // ---- pads
  api.get(
    '/pads',
    asyncRoute(async (req, res) => {
      const event = req.query.event
      if (typeof event === 'string') return void res.json({ pads: await meetings.pads({ event }) })
      res.json({ pads: await meetings.pads({ unfiled: true }) })
    }),
  )
  api.post(
    '/pads',
    asyncRoute(async (req, res) => {
      const body = jsonBody(req, padCreate)
      await admitNewPad(req, res, hooks.newPads)
      res.status(201).json(await createPad(meetings, body, await zoneOf(body.event)))
    }),
  )
  api.get(
    '/pads/:id',
    asyncRoute(async (req, res) => {
      res.json(await meetings.pad(param(req, 'id')))
    }),
  )
  api.patch(
    '/pads/:id',
    asyncRoute(async (req, res) => {
      const body = jsonBody(req, padPatch)
      const current = await meetings.pad(param(req, 'id'))
      const zone = await zoneOf(body.event !== undefined ? body.event : current.event)
      const { startsAt, endsAt, ...rest } = body
      const updated = await meetings.updatePad(current.id, {
        ...rest,
        startsAt: toMs(startsAt, zone),
        endsAt: toMs(endsAt, zone),
      })
      res.json(updated)
    }),
  )
  api.delete(
    '/pads/:id',
    asyncRoute(async (req, res) => {
      await meetings.deletePad(param(req, 'id'))
      res.status(204).end()
    }),
  )
  api.get(
    '/pads/:id/presence',
    asyncRoute(async (req, res) => {
      await meetings.pad(param(req, 'id'))
      res.json((await meetings.presenceOf([param(req, 'id')])).get(param(req, 'id')))
    }),
  )

  return api
}

function createPad(meetings: Meetings, body: z.infer<typeof padCreate>, zone: string) {
  return meetings.createPad({
    ...body,
    startsAt: toMs(body.startsAt, zone) ?? null,
    endsAt: toMs(body.endsAt, zone) ?? null,
  })
}
