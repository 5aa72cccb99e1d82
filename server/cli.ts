/**
 * `summitpad <command>`: the admin CLI's entry point (bin/summitpad.js, or
 * `node --import tsx server/cli.ts`). Reads argv and the environment, runs, sets the exit code.
 */
import { buildProblem } from './ops/build-info.ts'
import { runCli } from './ops/cli-run.ts'
import { DIST, ROOT } from './ops/paths.ts'

// Never run a build older than the sources (a `git pull` without `npm run build`).
const stale = buildProblem(ROOT, DIST)
if (stale) {
  process.stderr.write(`summitpad: ${stale}\n`)
  process.exit(2)
}

process.exitCode = await runCli(process.argv.slice(2), process.env, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
})
