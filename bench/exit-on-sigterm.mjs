// Loaded into the reference server and the relay when the benchmark profiles them
// (`--profile`): they have no SIGTERM handler, so the signal would end them before V8 writes the
// `--cpu-prof` profile, which it does only on a normal exit. This exits normally instead.
process.on('SIGTERM', () => process.exit(0))
