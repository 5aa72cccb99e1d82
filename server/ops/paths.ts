/**
 * Where the checkout's files are, the same whether this module runs as TypeScript from server/
 * (tests, tsx) or compiled from dist/server/ (`npm start`): the root is the nearest folder up that
 * holds Summitpad's package.json.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

function packageRoot(from: string): string {
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json')
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'summitpad') return dir
    if (path.dirname(dir) === dir) throw new Error(`no Summitpad package.json above ${from}`)
  }
}

export const ROOT = packageRoot(fileURLToPath(import.meta.url))
/** The build's output: compiled server (dist/server, dist/shared) and the browser client (dist/client). */
export const DIST = path.join(ROOT, 'dist')
export const CLIENT_OUT = path.join(DIST, 'client')
