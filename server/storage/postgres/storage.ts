/**
 * What `openStorage` (open-storage.ts) loads when DATABASE_URL is set: a module of its own, so a
 * server on SQLite never loads `pg`. The bundle itself is open.ts's.
 */
export { openPgStorage } from './open.ts'
