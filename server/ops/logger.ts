/** The server's structured logger (pino). One line per event; never one per frame at info level. */
import { type DestinationStream, type Logger, pino } from 'pino'

export type { Logger }

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination)
}
