/**
 * The control events' wire form (server/storage/control-codec.ts): every event survives a round
 * trip; anything else on the channel — truncated, of another version, with ids that are not ids,
 * too long — decodes to null (the listener logs and ignores it).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  CONTROL_CODEC_VERSION,
  decodeControl,
  encodeControl,
  MAX_CONTROL_PAYLOAD_BYTES,
} from '../server/storage/control-codec.ts'
import type { ControlEvent } from '../server/storage/control-events.ts'
import { PAD_ID_MAX_LENGTH } from '../server/sync/pad-id.ts'

const EVENTS: ControlEvent[] = [
  { type: 'pad-deleted', padId: 'x'.repeat(PAD_ID_MAX_LENGTH) },
  { type: 'session-changed', padId: 'lpc-2026.kernel_summit-3' },
  { type: 'pad-moved', padId: 'a' },
  { type: 'link-rotated', eventPk: 7, link: 'edit' },
  { type: 'link-rotated', eventPk: Number.MAX_SAFE_INTEGER, link: 'read' },
]
const SERVER = '0b6b2c2e-59c4-4a4f-9c53-1d3c2f1b7a10'

describe('control codec', () => {
  test('every event round-trips, far below NOTIFY’s 8000 bytes', () => {
    for (const event of EVENTS) {
      const payload = encodeControl(SERVER, event)
      assert.ok(Buffer.byteLength(payload) < 400, payload)
      assert.deepEqual(decodeControl(payload), { from: SERVER, event })
    }
  })

  test('truncated payloads decode to null', () => {
    for (const event of EVENTS) {
      const payload = encodeControl(SERVER, event)
      for (let cut = 0; cut < payload.length; cut++) assert.equal(decodeControl(payload.slice(0, cut)), null)
    }
  })

  test('anything but a well-formed event of this version decodes to null', () => {
    const wrap = (event: unknown, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ v: CONTROL_CODEC_VERSION, from: SERVER, event, ...extra })
    const bad = [
      'garbage',
      'null',
      '[]',
      '{}',
      JSON.stringify({ v: CONTROL_CODEC_VERSION + 1, from: SERVER, event: EVENTS[0] }),
      wrap(EVENTS[0], { from: '' }),
      wrap(EVENTS[0], { from: 42 }),
      wrap(EVENTS[0], { from: 'y'.repeat(65) }),
      wrap(null),
      wrap({ type: 'pad-deleted' }),
      wrap({ type: 'pad-deleted', padId: '../etc/passwd' }),
      wrap({ type: 'pad-deleted', padId: 'x'.repeat(PAD_ID_MAX_LENGTH + 1) }),
      wrap({ type: 'session-changed', padId: 5 }),
      wrap({ type: 'link-rotated', eventPk: '7', link: 'edit' }),
      wrap({ type: 'link-rotated', eventPk: 1.5, link: 'edit' }),
      wrap({ type: 'link-rotated', eventPk: 0, link: 'edit' }),
      wrap({ type: 'link-rotated', eventPk: 7, link: 'admin' }),
      wrap({ type: 'drop-tables' }),
      wrap(EVENTS[0], { padding: 'z'.repeat(MAX_CONTROL_PAYLOAD_BYTES) }),
    ]
    for (const payload of bad) assert.equal(decodeControl(payload), null, payload.slice(0, 120))
  })

  test('extra fields are dropped, not passed on', () => {
    const payload = JSON.stringify({
      v: CONTROL_CODEC_VERSION,
      from: SERVER,
      event: { type: 'pad-moved', padId: 'p', sql: 'DROP TABLE pads' },
    })
    assert.deepEqual(decodeControl(payload), { from: SERVER, event: { type: 'pad-moved', padId: 'p' } })
  })
})
