/**
 * Kinds of session materials (talk page, slides, paper, recording, other) and how a schedule's
 * link is sorted into one by its title and address. Pure.
 */
import { MATERIAL_KINDS, type MaterialKind } from './model.ts'

export { MATERIAL_KINDS, type MaterialKind }

export const MATERIAL_LABEL: Record<MaterialKind, string> = {
  talk: 'Talk page',
  slides: 'Slides',
  paper: 'Paper',
  recording: 'Recording',
  other: 'Link',
}

// Title first (a PDF called "Slides" is slides), then the address.
const RULES: readonly [MaterialKind, RegExp][] = [
  ['slides', /\bslides?\b|\bdeck\b|folien|\.(?:pptx?|odp|key)(?:$|[?#])|speakerdeck|slideshare/i],
  [
    'recording',
    /\bvideo\b|recording|\baudio\b|youtube|youtu\.be|vimeo|media\.ccc\.de|peertube|\.(?:mp4|webm|mkv|mp3|ogg|opus)(?:$|[?#])/i,
  ],
  ['paper', /\bpaper\b|arxiv\.org|doi\.org|proceedings|usenix\.org\/system\/files/i],
]

export function materialKindOf(title: string | null, url: string): MaterialKind {
  for (const [kind, pattern] of RULES) if (title && pattern.test(title)) return kind
  for (const [kind, pattern] of RULES) if (pattern.test(url)) return kind
  return 'other'
}
