/** The "here now" list, from awareness: each person's name and colour; viewers marked. */
import type { Awareness } from 'y-protocols/awareness'

interface UserState {
  name?: unknown
  color?: unknown
  /** Set by the server for someone on a read-only link. */
  viewer?: unknown
}

export function attachPeopleList(list: HTMLElement, count: HTMLElement, awareness: Awareness): void {
  const render = () => {
    const people: { name: string; color: string; me: boolean; viewer: boolean }[] = []
    for (const [clientId, state] of awareness.getStates()) {
      const user = (state as { user?: UserState }).user
      if (!user || typeof user.name !== 'string') continue
      const color =
        typeof user.color === 'string' && /^#[0-9a-f]{6}$/i.test(user.color) ? user.color : '#666666'
      people.push({
        name: user.name,
        color,
        me: clientId === awareness.clientID,
        viewer: user.viewer === true,
      })
    }
    people.sort((a, b) => Number(b.me) - Number(a.me) || a.name.localeCompare(b.name))
    const items = document.createDocumentFragment()
    for (const p of people) {
      const li = document.createElement('li')
      const dot = document.createElement('span')
      dot.className = 'dot'
      dot.style.background = p.color
      const label = `${p.name}${p.me ? ' (you)' : ''}${p.viewer ? ' · viewing' : ''}`
      li.append(dot, document.createTextNode(label))
      items.append(li)
    }
    list.replaceChildren(items)
    count.textContent = String(people.length)
  }
  awareness.on('change', render)
  render()
}
