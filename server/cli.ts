/**
 * `summitpad <command>`: the admin CLI's entry point (bin/summitpad.js, or
 * `node --import tsx server/cli.ts`). Reads argv and the environment, runs, sets the exit code.
 */
import { runCli } from './cli-run.ts'

process.exitCode = await runCli(process.argv.slice(2), process.env, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
})
