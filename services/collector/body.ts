import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import { QalqanError } from '../errors.js'

const gunzipAsync = promisify(gunzip)
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The request body as text: gunzipped when the sensor says so (never past `maxBytes`, so a gzip
 * bomb costs nothing), and strictly UTF-8 (a replacement character would silently change events).
 */
export async function bodyText(raw: Buffer, contentEncoding: string | undefined, maxBytes: number): Promise<string> {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase()
  let bytes = raw
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    try {
      bytes = await gunzipAsync(raw, { maxOutputLength: maxBytes })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new QalqanError(
          'QLQ_ERR_BODY_TOO_LARGE',
          `the body is larger than ${maxBytes} bytes once gunzipped (QALQAN_COLLECTOR_MAX_BODY_BYTES): send fewer events per request`,
        )
      }
      throw new QalqanError(
        'QLQ_ERR_INVALID_GZIP',
        `the body is not valid gzip (${(err as NodeJS.ErrnoException).code ?? 'corrupt'}): was it cut short?`,
      )
    }
  } else if (encoding !== 'identity' && encoding !== '') {
    throw new QalqanError(
      'QLQ_ERR_UNSUPPORTED_MEDIA_TYPE',
      `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported: send gzip or no encoding`,
    )
  }
  try {
    return utf8.decode(bytes)
  } catch {
    throw new QalqanError('QLQ_ERR_INVALID_UTF8', 'the body is not valid UTF-8: send events encoded as UTF-8')
  }
}
