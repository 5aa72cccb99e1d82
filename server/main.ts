/**
 * `npm start`: read the environment, start the server, print where it listens, and shut down
 * gracefully on SIGTERM/SIGINT (snapshots written, clients told to reconnect, DB closed).
 */
import { adminTokenProblem } from './access/access.ts'
import { startSummitpad } from './app.ts'
import { buildProblem } from './ops/build-info.ts'
import { ConfigError, configFromEnv } from './ops/config.ts'
import { createLogger } from './ops/logger.ts'
import { DIST, ROOT } from './ops/paths.ts'
import { describeStorage } from './storage/open-storage.ts'

async function main(): Promise<void> {
  // Never serve a build older than the sources (a `git pull` without `npm run build`).
  const stale = buildProblem(ROOT, DIST)
  if (stale) {
    console.error(`summitpad: ${stale}`)
    process.exit(2)
  }
  let config: ReturnType<typeof configFromEnv>
  try {
    config = configFromEnv(process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`summitpad: ${err.message}`)
      process.exit(2)
    }
    throw err
  }
  const adminToken = process.env.ADMIN_TOKEN || null
  const tokenProblem = adminToken === null ? null : adminTokenProblem(adminToken)
  if (tokenProblem) {
    console.error(`summitpad: ${tokenProblem}`)
    process.exit(2)
  }
  const log = createLogger(config.logLevel)
  // Not part of Config: a secret, read here and handed to the one place that checks it.
  const server = await startSummitpad(config, log, { adminToken })
  log.info(
    {
      engine: server.storage.engine,
      dataDir: config.databaseUrl ? undefined : config.dataDir,
      durability: config.durability,
      mode: adminToken ? 'protected' : 'open',
    },
    `Summitpad listening on ${server.url}`,
  )
  // Also on stdout in plain words, whatever LOG_LEVEL says: it is the one line a new user needs.
  console.log(`Summitpad listening on ${server.url}  (${describeStorage(config)})`)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting')
      process.exit(1)
    }, config.shutdownTimeoutMs + 2000)
    force.unref()
    server.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'error during shutdown')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((err) => {
  console.error('summitpad: failed to start:', err instanceof Error ? err.message : err)
  process.exit(1)
})
