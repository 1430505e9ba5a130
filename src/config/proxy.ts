// Proxy URLs and the one rule for their credentials.
//
// THE RULE: a credential in a proxy URL is sent only to that proxy — in the
// Proxy-Authorization header of an HTTP CONNECT to that host:port, or in the
// SOCKS5 username/password sub-negotiation (RFC 1929) with that host:port.
// It is never sent to a gateway, a relay, a peer or any other host, never
// carried across a redirect, never written to a log, an error message, the
// local API or `parley status`. Parley also never picks up credentials on its
// own (no system keychain, no NTLM/Kerberos single sign-on): the only
// credentials it uses are the ones an administrator or user wrote into the
// URL. Skype reused the browser's proxy credentials; we don't.

export type ProxyProtocol = 'http' | 'socks5'

export interface ProxyEndpoint {
  protocol: ProxyProtocol
  host: string
  port: number
  /** Empty strings when the URL carries no credentials. */
  username: string
  password: string
}

const DEFAULT_PORTS: Record<ProxyProtocol, number> = { http: 80, socks5: 1080 }

/**
 * Parses `http://[user[:password]@]host[:port]` or `socks5://…`. Throws an
 * Error whose message never contains the password, so callers may show it.
 */
export function parseProxyUrl(text: string): ProxyEndpoint {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new Error(
      `"${redactUrlText(text)}" is not a URL; use http://HOST:PORT or socks5://HOST:PORT`,
    )
  }
  const protocol = url.protocol.slice(0, -1)
  if (protocol !== 'http' && protocol !== 'socks5') {
    throw new Error(
      `"${redactUrlText(text)}" uses ${url.protocol}//; only http:// (HTTP CONNECT) and socks5:// proxies are supported`,
    )
  }
  if (url.hostname === '') {
    throw new Error(`"${redactUrlText(text)}" has no host; use ${protocol}://HOST:PORT`)
  }
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new Error(
      `"${redactUrlText(text)}" has a path, query or fragment; a proxy URL is only ${protocol}://[USER:PASSWORD@]HOST:PORT`,
    )
  }
  return {
    protocol,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? DEFAULT_PORTS[protocol] : Number(url.port),
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  }
}

/** `http://user:***@host:port`: safe to print; the username stays so people can tell accounts apart. */
export function redactProxyUrl(text: string): string {
  let p: ProxyEndpoint
  try {
    p = parseProxyUrl(text)
  } catch {
    return redactUrlText(text)
  }
  const host = p.host.includes(':') ? `[${p.host}]` : p.host
  const user = p.username === '' ? '' : encodeURIComponent(p.username)
  const auth = p.password !== '' ? `${user}:***@` : user !== '' ? `${user}@` : ''
  return `${p.protocol}://${auth}${host}:${p.port}`
}

/**
 * Masks whatever sits between `//` and the last `@` of the authority in text
 * that may not even parse as a URL, keeping the username. Used for error
 * messages about malformed values, which is exactly when a password would
 * otherwise be echoed back.
 */
export function redactUrlText(text: string): string {
  // Up to the LAST '@' on purpose: an unencoded '/', '?', '@' or space in a password
  // must not end the match early and leave the rest of the password visible.
  return text.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?(.*)@/s, (_m, scheme = '', auth) => {
    const colon = (auth as string).indexOf(':')
    return colon < 0 ? `${scheme}${auth}@` : `${scheme}${(auth as string).slice(0, colon)}:***@`
  })
}
