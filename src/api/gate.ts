import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import { ApiRejection } from './status.js'

// The checks every HTTP request and WebSocket upgrade passes, in this order:
// Host (DNS rebinding), Origin (cross-site pages), then the token. Host and
// Origin come first so that a hostile page learns nothing about the token.

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]']
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', ''])

export class Gate {
  private readonly token_digest: Buffer
  private readonly bind_host: string
  private hosts = new Set<string>()
  private origins = new Set<string>()

  constructor(token: string, bind_host: string) {
    this.token_digest = digest(token)
    this.bind_host = bind_host
  }

  /** Called once the port is known (it may have been ephemeral). */
  setPort(port: number): void {
    const names = [...LOOPBACK_NAMES]
    // An operator who binds a specific address reaches the API through that address.
    if (!WILDCARD_HOSTS.has(this.bind_host)) names.push(hostForUrl(this.bind_host).toLowerCase())
    this.hosts = new Set(names.map((name) => `${name}:${port}`))
    this.origins = new Set(names.map((name) => `http://${name}:${port}`))
  }

  checkHost(req: IncomingMessage): void {
    const host = singleHeader(req, 'host')
    if (host !== undefined && this.hosts.has(host.toLowerCase())) return
    throw new ApiRejection(
      403,
      'FORBIDDEN',
      `the Host header must name this daemon's loopback address (${[...this.hosts].join(', ')}); ` +
        'requests through any other name are refused to defeat DNS rebinding',
    )
  }

  checkOrigin(req: IncomingMessage): void {
    const origin = singleHeader(req, 'origin')
    // No Origin: not a browser (the CLI, curl). Browsers always send it where it matters.
    if (origin === undefined || this.origins.has(origin.toLowerCase())) return
    throw new ApiRejection(
      403,
      'FORBIDDEN',
      `cross-site request refused: only pages served by this daemon (${[...this.origins].join(', ')}) may call its API`,
    )
  }

  /** Accepts `Authorization: Bearer <token>` or any of the extra candidates (subprotocol tokens). */
  checkToken(req: IncomingMessage, extra_candidates: string[] = []): void {
    const bearer = bearerToken(singleHeader(req, 'authorization'))
    const candidates = bearer === undefined ? extra_candidates : [bearer, ...extra_candidates]
    // Check them all so timing does not say which one matched.
    let ok = false
    for (const candidate of candidates) ok = this.tokenMatches(candidate) || ok
    if (ok) return
    throw new ApiRejection(
      401,
      'UNAUTHORIZED',
      `${candidates.length === 0 ? 'missing' : 'wrong'} API token: send "Authorization: Bearer <token>" ` +
        "with the token from the daemon's api-token file",
      { 'WWW-Authenticate': 'Bearer realm="parley"' },
    )
  }

  tokenMatches(candidate: string): boolean {
    // Comparing fixed-length digests hides the token's length as well as its content.
    return timingSafeEqual(digest(candidate), this.token_digest)
  }
}

/** A header that must appear at most once: duplicates are a smuggling trick, so refuse them. */
export function singleHeader(req: IncomingMessage, name: string): string | undefined {
  const values = req.headersDistinct[name]
  if (values === undefined || values.length === 0) return undefined
  if (values.length > 1) {
    throw new ApiRejection(400, 'BAD_REQUEST', `the ${name} header appears more than once`)
  }
  return values[0]
}

function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  const match = /^bearer +(\S+) *$/i.exec(authorization)
  return match?.[1] ?? ''
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/** IPv6 literals need brackets in URLs and Host headers. */
export function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host
}
