/** Who you are in the pad: a name asked once and a colour, remembered in this browser. */

const NAME_KEY = 'summitpad:name'
const COLOR_KEY = 'summitpad:color'
export const NAME_MAX_LENGTH = 64

/** Colours readable as cursor labels on white, with white text on them. */
const PALETTE = [
  '#1f6feb',
  '#c2410c',
  '#15803d',
  '#9333ea',
  '#be123c',
  '#0e7490',
  '#a16207',
  '#4f46e5',
  '#b91c1c',
  '#047857',
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

/** Shows the name dialog until a name is given; resolves with the identity. */
export function askName(dialog: HTMLDialogElement, current: string | null): Promise<Identity> {
  const input = dialog.querySelector('input')!
  input.value = current ?? ''
  return new Promise((resolve) => {
    const form = dialog.querySelector('form')!
    const submit = (e: Event) => {
      e.preventDefault()
      const name = cleanName(input.value)
      if (!name) return input.focus()
      form.removeEventListener('submit', submit)
      dialog.close()
      resolve(rememberName(name))
    }
    form.addEventListener('submit', submit)
    dialog.addEventListener('cancel', (e) => {
      // A pad needs a name to label your cursor; Escape keeps the previous one if there is one.
      if (!current) e.preventDefault()
    })
    dialog.showModal()
    input.focus()
  })
}
