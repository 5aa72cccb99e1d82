// Loaded into a server child by the benchmark (`node --expose-gc --import bench/gc-on-signal.mjs`)
// for the idle-memory scenario only: SIGUSR2 runs a full GC and, if BENCH_MEMORY_FILE is set,
// writes process.memoryUsage() there, so RSS can be read without the garbage of the connections
// made before and split into heap and the rest. It changes nothing else in the server.
import fs from 'node:fs'

process.on('SIGUSR2', () => {
  globalThis.gc?.()
  const file = process.env.BENCH_MEMORY_FILE
  if (file) fs.writeFileSync(file, JSON.stringify(process.memoryUsage()))
})
