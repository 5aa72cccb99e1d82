/**
 * API routes of session materials: list, add (http(s) only), remove. Editors change them; the
 * route table says who is one.
 */
import express, { type Router } from 'express'
import { z } from 'zod'
import { MAX_MATERIAL_URL_LENGTH, type Materials } from '../meetings/materials.ts'
import { MATERIAL_KINDS } from '../meetings/model.ts'
import { HttpError } from './http-errors.ts'
import { asyncRoute, jsonBodyOf } from './json-route.ts'

const addBody = z.strictObject({
  kind: z.enum(MATERIAL_KINDS).optional(),
  title: z.string().trim().max(300).nullish(),
  // The scheme rule is checked by Materials, so its message names it.
  url: z
    .string()
    .trim()
    .min(1)
    .max(MAX_MATERIAL_URL_LENGTH * 2),
})

export function createMaterialsRouter(materials: Materials): Router {
  const api = express.Router()
  api.get(
    '/pads/:id/materials',
    asyncRoute(async (req, res) => {
      res.json({ materials: await materials.of(String(req.params.id)) })
    }),
  )
  api.post(
    '/pads/:id/materials',
    asyncRoute(async (req, res) => {
      const input = jsonBodyOf(req, addBody)
      res.status(201).json({ materials: await materials.add(String(req.params.id), input) })
    }),
  )
  api.delete(
    '/pads/:id/materials',
    asyncRoute(async (req, res) => {
      const url = req.query.url
      if (typeof url !== 'string' || !url)
        throw new HttpError(400, 'invalid', 'say which material: ?url=<its address>')
      res.json({ materials: await materials.remove(String(req.params.id), url) })
    }),
  )
  return api
}
