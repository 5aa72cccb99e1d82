/** A small fetch wrapper for the JSON API: throws with the server's own error message. */

export class ApiError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<T> {
  const init: RequestInit = { method, headers: {} }
  if (body !== undefined) {
    init.headers = { 'Content-Type': contentType }
    init.body = typeof body === 'string' && contentType !== 'application/json' ? body : JSON.stringify(body)
  }
  const res = await fetch(path, init)
  if (res.status === 204) return undefined as T
  const data = (await res.json().catch(() => null)) as { error?: { message?: string } } | null
  if (!res.ok) throw new ApiError(res.status, data?.error?.message ?? `HTTP ${res.status}`)
  return data as T
}

/** Shows a status or error message in a form's message box. */
export function say(form: HTMLFormElement, text: string, isError = false): void {
  const box = form.querySelector<HTMLElement>('.message')
  if (!box) return
  box.hidden = false
  box.textContent = text
  box.classList.toggle('error', isError)
}

/** The form's non-empty text fields. */
export function fields(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of new FormData(form))
    if (typeof value === 'string' && value.trim()) out[key] = value.trim()
  return out
}
