/**
 * Validation errors in plain words: what a person (or a script's author) got wrong, named as the
 * forms name it ("The last day is …"), never as a field key and a validator's jargon
 * ("endsOn: Invalid input"). Request bodies and queries both go through here.
 */
import type { z } from 'zod'

/** What the pages' forms call each field. */
const LABELS: Record<string, string> = {
  slug: 'The short name for the URL',
  name: 'The name',
  startsOn: 'The first day',
  endsOn: 'The last day',
  timezone: 'The time zone',
  description: 'The description',
  title: 'The title',
  kind: 'The kind of session',
  track: 'The track',
  room: 'The room',
  startsAt: 'The start time',
  endsAt: 'The end time',
  start: 'The start time',
  end: 'The end time',
  speakers: 'The speakers',
  links: 'A link',
  url: "A link's address",
  id: 'The pad name',
  event: 'The event',
  cancelled: 'Cancelled',
  body: 'The template',
  q: 'The search',
  link: 'The link',
}

const EXPECTED: Record<string, string> = {
  string: 'text',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
}

function labelOf(path: readonly PropertyKey[]): string {
  // The innermost named field: "links.0.url" is the address of a link.
  const named = path.filter((p): p is string => typeof p === 'string')
  const key = named[named.length - 1]
  if (key === undefined) return 'The request'
  return LABELS[key] ?? `"${key}"`
}

/** One validation issue as a sentence. */
export function plainIssue(issue: z.core.$ZodIssue): string {
  const label = labelOf(issue.path)
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `${label} is missing.`
      return `${label} must be ${EXPECTED[issue.expected] ?? issue.expected}.`
    case 'too_big':
      return issue.origin === 'string'
        ? `${label} is too long: at most ${String(issue.maximum)} characters.`
        : `${label} has too many entries: at most ${String(issue.maximum)}.`
    case 'too_small':
      return issue.origin === 'string' && Number(issue.minimum) <= 1
        ? `${label} is empty.`
        : `${label} is too short.`
    case 'unrecognized_keys':
      return `There is no field ${issue.keys.map((k) => `"${k}"`).join(', ')} here.`
    case 'invalid_value':
      return `${label} must be one of: ${issue.values.map(String).join(', ')}.`
    case 'invalid_format':
      if (issue.format === 'url') return `${label} must be an http or https address.`
      return customMessage(label, issue.message)
    default:
      return customMessage(label, issue.message)
  }
}

/** Our own refinements say "must be …"; a sentence puts the field in front. */
function customMessage(label: string, message: string): string {
  return /^(must|is|has)\b/.test(message) ? `${label} ${message}.` : `${label}: ${message}.`
}
