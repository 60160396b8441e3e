import { pino, type Logger } from 'pino'

/** JSON logs to stdout; tokens are redacted wherever they might appear. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'qalqan' },
      redact: {
        paths: [
          'authorization',
          'token',
          '*.authorization',
          '*.token',
          'req.headers.authorization',
          'headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  )
}
