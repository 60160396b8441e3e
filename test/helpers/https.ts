import { request } from 'node:https'
import { connect, type ConnectionOptions, type PeerCertificate } from 'node:tls'

export interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly text: string
}

/** One HTTPS request on a connection of its own, trusting `ca`, with the client certificate given. */
export function httpsRequest(
  url: string,
  options: {
    ca: Buffer
    method?: string
    headers?: Record<string, string>
    body?: string
    cert?: Buffer
    key?: Buffer
  },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: options.ca,
        ...(options.cert && { cert: options.cert, key: options.key }),
        agent: false,
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

/** A handshake alone: the protocol and cipher agreed and the server's certificate, or the error that ended it. */
export function handshake(
  port: number,
  options: ConnectionOptions,
): Promise<
  | { ok: true; protocol: string | null; cipher: string; certificate: PeerCertificate }
  | { ok: false; code: string; message: string }
> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
      const result = {
        ok: true as const,
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().name,
        certificate: socket.getPeerCertificate(),
      }
      socket.end()
      resolve(result)
    })
    socket.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ ok: false, code: err.code ?? 'unknown', message: err.message }),
    )
  })
}
