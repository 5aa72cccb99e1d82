/** A time as people at the event read it: in the event's zone (`data-zone` on the page), else the browser's. */
export function clockTime(iso: string, within: HTMLElement, withDate = false): string {
  const timeZone = within.closest<HTMLElement>('[data-zone]')?.dataset.zone
  return new Date(iso).toLocaleString(undefined, {
    ...(withDate ? { dateStyle: 'medium' } : {}),
    timeStyle: 'short',
    ...(timeZone ? { timeZone } : {}),
  })
}
