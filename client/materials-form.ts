/** The event page's materials: the "Add a material" form and each material's remove button. */
import { api, fields, say } from './api.ts'

export function wireMaterials(): void {
  const form = document.querySelector<HTMLFormElement>('#add-material')
  form?.addEventListener('submit', async (e) => {
    e.preventDefault()
    const { pad, kind, title, url } = fields(form)
    try {
      await api('POST', `/api/pads/${encodeURIComponent(pad ?? '')}/materials`, {
        kind,
        title: title ?? null,
        url,
      })
      location.reload()
    } catch (err) {
      say(form, (err as Error).message, true)
    }
  })
  document.addEventListener('click', async (e) => {
    const button = (e.target as Element).closest<HTMLButtonElement>('[data-remove-material]')
    if (!button) return
    const { pad = '', url = '' } = button.dataset
    try {
      await api('DELETE', `/api/pads/${encodeURIComponent(pad)}/materials?url=${encodeURIComponent(url)}`)
      button.closest('li')?.remove()
    } catch (err) {
      alert((err as Error).message)
    }
  })
}
