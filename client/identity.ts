/** Who you are in the pad: a name asked once and a colour, remembered in this browser. */

const NAME_KEY = 'summitpad:name'
const COLOR_KEY = 'summitpad:color'
export const NAME_MAX_LENGTH = 64

/**
 * Colours readable as cursor labels on white, with white text on them, and far enough apart that
 * two people in one pad can tell their carets apart.
 */
const PALETTE = [
  '#1f6feb', // blue
  '#c2410c', // orange
  '#15803d', // green
  '#9333ea', // purple
  '#be123c', // crimson
  '#0e7490', // teal
  '#a16207', // ochre
  '#c026d3', // magenta
  '#4d5b0b', // olive
  '#475569', // slate
]

export interface Identity {
  name: string
  color: string
}

export function storedIdentity(): Identity | null {
  const name = localStorage.getItem(NAME_KEY)
  if (!name) return null
  let color = localStorage.getItem(COLOR_KEY)
  if (!color || !/^#[0-9a-f]{6}$/i.test(color)) {
    color = PALETTE[Math.floor(Math.random() * PALETTE.length)]!
    localStorage.setItem(COLOR_KEY, color)
  }
  return { name, color }
}

export function rememberName(name: string): Identity {
  localStorage.setItem(NAME_KEY, cleanName(name))
  return storedIdentity()!
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const CONTROL_OR_MARKUP = /[\u0000-\u001f<>]/g

export function cleanName(name: string): string {
  return name.replace(CONTROL_OR_MARKUP, '').trim().slice(0, NAME_MAX_LENGTH)
}

/**
 * Shows the name dialog until a name is given; resolves with the identity, or with null when the
 * person keeps their current name (Escape). Without a name yet, Escape does nothing: a pad needs
 * a name to label your cursor.
 */
export function askName(dialog: HTMLDialogElement, current: string | null): Promise<Identity | null> {
  const form = dialog.querySelector('form')!
  const input = dialog.querySelector('input')!
  input.value = current ?? ''
  return new Promise((resolve) => {
    const submit = (e: Event) => {
      e.preventDefault()
      const name = cleanName(input.value)
      if (!name) return input.focus()
      done(rememberName(name))
    }
    const cancel = (e: Event) => {
      if (current) done(null)
      else e.preventDefault()
    }
    const done = (identity: Identity | null) => {
      form.removeEventListener('submit', submit)
      dialog.removeEventListener('cancel', cancel)
      dialog.close()
      resolve(identity)
    }
    form.addEventListener('submit', submit)
    dialog.addEventListener('cancel', cancel)
    dialog.showModal()
    input.focus()
  })
}
