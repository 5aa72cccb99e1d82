/** Pad ids: what may name a pad, in a URL path and in the database. */

export const PAD_ID_MAX_LENGTH = 100
const PAD_ID = /^[A-Za-z0-9._-]{1,100}$/

export function isValidPadId(id: string): boolean {
  return PAD_ID.test(id)
}
