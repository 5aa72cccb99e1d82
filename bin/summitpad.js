#!/usr/bin/env node
// `npx summitpad <command>`: the admin CLI, as compiled by `npm run build` (npm install runs it).
import fs from 'node:fs'

const built = (file) => new URL(`../dist/server/${file}`, import.meta.url)
if (!fs.existsSync(built('cli.js'))) {
  console.error('summitpad: Summitpad is not built: run `npm run build` (`npm install` runs it too).')
  process.exit(2)
}
const { buildProblem } = await import(built('build-info.js'))
const { DIST, ROOT } = await import(built('paths.js'))
const stale = buildProblem(ROOT, DIST)
if (stale) {
  console.error(`summitpad: ${stale}`)
  process.exit(2)
}
await import(built('cli.js'))
