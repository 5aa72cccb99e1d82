/**
 * The pad's title, renamed in the page: the title in the toolbar is a button for whoever may
 * change the pad's details; it turns into a text field (Enter saves, Escape keeps the old title).
 */
import { api } from './api.ts'

export function attachTitleEdit(
  button: HTMLButtonElement,
  padId: string,
  renamed: (title: string) => void,
): void {
  button.addEventListener('click', () => {
    const input = document.createElement('input')
    input.value = button.textContent ?? ''
    input.maxLength = 300
    input.setAttribute('aria-label', 'Pad title')
    input.className = 'title-input'
    button.replaceWith(input)
    input.focus()
    input.select()
    let done = false
    const finish = async (save: boolean) => {
      if (done) return
      done = true
      const title = input.value.trim()
      if (save && title && title !== button.textContent) {
        try {
          await api('PATCH', `/api/pads/${padId}`, { title })
          button.textContent = title
          renamed(title)
        } catch (err) {
          button.title = `Not renamed: ${(err as Error).message}`
        }
      }
      input.replaceWith(button)
      button.focus()
    }
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') void finish(true)
      else if (e.key === 'Escape') void finish(false)
    })
    input.addEventListener('blur', () => void finish(true))
  })
}
