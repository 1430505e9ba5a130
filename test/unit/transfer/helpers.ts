import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { Duplex } from 'node:stream'
import Protomux from 'protomux'
import { encodeId, generateKeyPair } from '../../../src/identity/index.js'
import {
  type PeerLink,
  TransferEngine,
  type TransferEngineOptions,
} from '../../../src/transfer/index.js'
import { systemClock } from '../../../src/util/clock.js'
import { systemRandom } from '../../../src/util/random.js'

/** Two message-preserving in-memory streams joined end to end, as secret-stream looks to protomux. */
export function streamPair(onAtoB?: (chunk: Buffer) => Buffer | null): [Duplex, Duplex] {
  let a: Duplex | null = null
  let b: Duplex | null = null
  const make = (deliver: (chunk: Buffer) => void) =>
    new Duplex({
      objectMode: true,
      read() {},
      write(chunk: Buffer, _enc, done) {
        deliver(chunk)
        done()
      },
      final(done) {
        done()
      },
    })
  a = make((chunk) => {
    const out = onAtoB ? onAtoB(chunk) : chunk
    if (out !== null) setImmediate(() => b!.push(out))
  })
  b = make((chunk) => setImmediate(() => a!.push(chunk)))
  return [a, b]
}

export interface Node {
  id: string
  identity: Buffer
  engine: TransferEngine
  home: string
}

export async function makeNode(
  home: string,
  overrides: Partial<TransferEngineOptions> = {},
  identity?: { id: string; publicKey: Buffer },
): Promise<Node> {
  const ident = identity ?? (await newIdentity())
  const engine = new TransferEngine({
    home,
    clock: systemClock,
    random: systemRandom,
    enabled: true,
    auto_accept_from: [],
    download_dir: `${home}/downloads`,
    connect: async () => {},
    maintain: () => {},
    release: () => {},
    ...overrides,
  })
  await engine.start()
  return { id: ident.id, identity: ident.publicKey, engine, home }
}

export async function newIdentity(): Promise<{ id: string; publicKey: Buffer }> {
  const { publicKey } = generateKeyPair()
  return { id: encodeId(publicKey), publicKey: Buffer.from(publicKey) }
}

/** Joins two engines as if a session between them had opened; returns a function that cuts it. */
export function join(a: Node, b: Node, onAtoB?: (chunk: Buffer) => Buffer | null): () => void {
  const [sa, sb] = streamPair(onAtoB)
  const muxA = new Protomux(sa)
  const muxB = new Protomux(sb)
  const linkA: PeerLink = { identity: b.identity, mux: muxA, path: () => 'direct' }
  const linkB: PeerLink = { identity: a.identity, mux: muxB, path: () => 'direct' }
  a.engine.attach(linkA)
  b.engine.attach(linkB)
  return () => {
    sa.destroy()
    sb.destroy()
  }
}

export async function randomFile(path: string, size: number): Promise<Buffer> {
  const data = randomBytes(size)
  await writeFile(path, data)
  return data
}

/** Resolves when the engine reports the transfer in one of `states`. */
export function waitFor(
  engine: TransferEngine,
  pred: (t: { id: string; state: string; direction: string; error: unknown }) => boolean,
  timeout_ms = 20_000,
): Promise<{
  id: string
  state: string
  error: { code: string; message: string } | null
  path: string | null
}> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const t = engine.list().find(pred)
      if (t !== undefined) {
        engine.off('event', check)
        clearTimeout(timer)
        resolve(t)
      }
    }
    const timer = setTimeout(() => {
      engine.off('event', check)
      reject(new Error(`timed out; transfers: ${JSON.stringify(engine.list())}`))
    }, timeout_ms)
    engine.on('event', check)
    check()
  })
}
