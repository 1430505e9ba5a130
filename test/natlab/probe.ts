import type { NatLab } from './lab.js'
import { execIn } from './netns.js'

// Tiny network probes run with `node -e` inside lab namespaces, to check that
// each router kind lets through exactly what README.md says it does.

/** Echoes UDP datagrams and TCP bytes on argv host:port; prints "ready" once both listen. */
const ECHO_SERVER = `
const [host, port] = process.argv.slice(1)
const udp = require('node:dgram').createSocket('udp4')
udp.on('message', (m, r) => udp.send(m, r.port, r.address))
const tcp = require('node:net').createServer((s) => s.pipe(s))
let up = 0
const ready = () => { if (++up === 2) console.log('ready') }
udp.bind(Number(port), host, ready)
tcp.listen(Number(port), host, ready)
`

/** argv: mode (udp | tcp | connect) host port [proxy_host proxy_port]; prints "ok" or "blocked". */
const PROBE = `
const [mode, host, port, proxyHost, proxyPort] = process.argv.slice(1)
const done = (ok) => { console.log(ok ? 'ok' : 'blocked'); process.exit(0) }
setTimeout(() => done(false), 1500)
if (mode === 'udp') {
  const s = require('node:dgram').createSocket('udp4')
  s.on('message', () => done(true))
  s.send('x', Number(port), host)
} else {
  const target = mode === 'connect' ? [Number(proxyPort), proxyHost] : [Number(port), host]
  const s = require('node:net').connect(...target)
  s.on('error', () => done(false))
  let seen = ''
  s.on('connect', () => {
    if (mode === 'connect') s.write('CONNECT ' + host + ':' + port + ' HTTP/1.1\\r\\nHost: ' + host + '\\r\\n\\r\\n')
    else s.write('x')
  })
  s.on('data', (d) => {
    seen += d.toString()
    if (mode !== 'connect') return done(true)
    if (/^HTTP\\/1\\.[01] 200/.test(seen) && seen.includes('\\r\\n\\r\\n')) { seen = ''; mode = 'tcp'; s.write('x') }
    else if (!/^HTTP/.test(seen)) done(false)
  })
}
`.replace('const [mode,', 'let [mode,')

export const ECHO_PORT = 7007

/** Starts the echo server on the bootstrap namespace's first address. */
export async function startEcho(lab: NatLab, host: string): Promise<void> {
  const args = ['-e', ECHO_SERVER, host, String(ECHO_PORT)]
  await lab.start('echo', lab.boot_ns, args, (out) => (out.includes('ready') ? true : null))
}

export async function probe(
  ns: string,
  mode: 'udp' | 'tcp' | 'connect',
  target: { host: string; port: number },
  proxy?: { host: string; port: number },
): Promise<'ok' | 'blocked'> {
  const args = ['-e', PROBE, mode, target.host, String(target.port)]
  if (proxy) args.push(proxy.host, String(proxy.port))
  const out = await execIn(ns, process.execPath, args)
  return out.trim() === 'ok' ? 'ok' : 'blocked'
}
