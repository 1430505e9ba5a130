import type { IncomingMessage } from 'node:http'
import { BODY_DRAIN_BYTES_MAX } from './constants.js'
import { singleHeader } from './gate.js'
import { ApiRejection } from './status.js'

// Reading a JSON request body with a hard size bound.

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Reads, decodes and parses the body; an empty body reads as {}. */
export async function readJsonBody(req: IncomingMessage, bytes_max: number): Promise<unknown> {
  const bytes = await readBytes(req, bytes_max)
  if (bytes.length === 0) return {}
  const type = singleHeader(req, 'content-type') ?? ''
  if (!/^application\/json *(;.*)?$/i.test(type)) {
    throw new ApiRejection(
      415,
      'BAD_REQUEST',
      `request bodies must be JSON: send "Content-Type: application/json" (got ${type === '' ? 'none' : `"${type.slice(0, 64)}"`})`,
    )
  }
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw new ApiRejection(400, 'BAD_REQUEST', 'request body is not valid UTF-8')
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new ApiRejection(
      400,
      'BAD_REQUEST',
      `request body is not valid JSON: ${(err as Error).message}`,
    )
  }
}

function readBytes(req: IncomingMessage, bytes_max: number): Promise<Buffer> {
  const declared_bytes = Number(req.headers['content-length'] ?? 0)
  if (declared_bytes > bytes_max + BODY_DRAIN_BYTES_MAX) {
    return Promise.reject(tooLarge(bytes_max, true))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let total_bytes = 0
    let settled = false
    const settle = (err: Error | null) => {
      if (settled) return
      settled = true
      if (err !== null) reject(err)
      else resolve(Buffer.concat(chunks))
    }
    req.on('data', (chunk: Buffer) => {
      total_bytes += chunk.length
      // Past the limit we keep reading but not storing, so the 413 reaches a client still sending.
      if (total_bytes <= bytes_max) chunks.push(chunk)
      else if (total_bytes > bytes_max + BODY_DRAIN_BYTES_MAX) settle(tooLarge(bytes_max, true))
    })
    req.on('end', () => settle(total_bytes > bytes_max ? tooLarge(bytes_max, false) : null))
    req.on('error', (err) => settle(err))
    req.on('close', () => settle(new Error('the client went away while sending the body')))
  })
}

function tooLarge(bytes_max: number, close: boolean): ApiRejection {
  return new ApiRejection(
    413,
    'BAD_REQUEST',
    `request body is larger than the ${bytes_max} bytes this API accepts`,
    close ? { Connection: 'close' } : {},
  )
}
