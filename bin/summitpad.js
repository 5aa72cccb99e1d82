#!/usr/bin/env node
// `npx summitpad <command>`: the admin CLI, as built by `npm run build` (npm install runs it).
import fs from 'node:fs'

const cli = new URL('../dist/server/cli.js', import.meta.url)
if (!fs.existsSync(cli)) {
  console.error('summitpad: Summitpad is not built: run `npm run build` (`npm install` runs it too).')
  process.exit(2)
}
await import(cli.href)
