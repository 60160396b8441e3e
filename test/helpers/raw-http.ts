import type { FastifyInstance } from 'fastify'
import { connect, type Socket } from 'node:net'

export interface Exchange {
  /** Everything the server sent, as text. */
  received: string
  /** Whether the server closed the socket within the wait. */
  closed: boolean
  /** From connecting to the close (or to the end of the wait). */
  elapsedMs: number
  /** The socket error this side saw (EPIPE, ECONNRESET), with what had been received by then. */
  error?: { code: string; receivedBefore: string }
}

/** Listens on a port the OS picks; the app is closed by whoever built it. */
export async function listenOnFreePort(app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (typeof address !== 'object' || address === null) throw new Error('the app listens on no port')
  return address.port
}

/**
 * Talks HTTP by hand on a real socket: `talk` writes what it likes once connected (and may return
 * a function that stops its writing); what the server sends is collected until it closes the
 * socket or `waitMs` passes, when the socket is destroyed from this side.
 */
export function exchange(port: number, talk: (socket: Socket) => unknown, waitMs: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = performance.now()
    let received = ''
    let stop: (() => void) | undefined
    let error: Exchange['error']
    const socket = connect(port, '127.0.0.1', () => {
      const talking = talk(socket)
      if (typeof talking === 'function') stop = talking as () => void
    })
    const done = (closed: boolean) => {
      clearTimeout(timer)
      stop?.()
      resolve({ received, closed, elapsedMs: performance.now() - started, ...(error && { error }) })
    }
    const timer = setTimeout(() => {
      socket.removeAllListeners('close')
      socket.destroy()
      done(false)
    }, waitMs)
    socket.on('data', (chunk) => (received += chunk.toString('latin1')))
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error ??= { code: err.code ?? err.message, receivedBefore: received }
    })
    socket.on('close', () => done(true))
  })
}

/** A request's head: the request line, the headers given, and the blank line that ends them. */
export function head(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.join('\r\n')}\r\n\r\n`
}
