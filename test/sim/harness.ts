// What every sim test shares: seeds (with replay), deterministic identities,
// and nodes (a SessionManager on a host of the SimHub).

import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type DeviceCertificate,
  generateKeyPair,
  type KeyPair,
  signDeviceCertificate,
} from '../../src/identity/index.js'
import { SessionManager } from '../../src/session/index.js'
import type { LinkConditions } from './network.js'
import { SimHub } from './peer-network.js'
import { Sim } from './sim.js'

/** Seeds per test unless PARLEY_SIM_SEED picks one; PARLEY_SIM_SEEDS=<n> runs more (or fewer). */
export const SEEDS_DEFAULT = 20

export function seeds(count = SEEDS_DEFAULT): number[] {
  const one = process.env.PARLEY_SIM_SEED
  if (one !== undefined && one !== '') return [Number.parseInt(one, 10)]
  const n = Number.parseInt(process.env.PARLEY_SIM_SEEDS ?? '', 10)
  const total = Number.isSafeInteger(n) && n > 0 ? n : count
  return Array.from({ length: total }, (_, i) => i + 1)
}

/**
 * Runs `body` once per seed. A failure names the seed and the command that
 * replays exactly that run, in the assertion message and on stderr.
 */
export async function forEachSeed(
  testFileUrl: string,
  testName: string,
  body: (sim: Sim) => Promise<void>,
  count = SEEDS_DEFAULT,
): Promise<void> {
  for (const seed of seeds(count)) {
    const sim = new Sim(seed)
    try {
      await body(sim)
    } catch (err) {
      const file = relative(process.cwd(), fileURLToPath(testFileUrl))
      const replay = `PARLEY_SIM_SEED=${seed} node --test --test-name-pattern='${testName}' ${file}`
      const detail = err instanceof Error ? err.message : String(err)
      console.error(`sim failure at seed=${seed} (t=${sim.now()} ms); replay with:\n  ${replay}`)
      const wrapped = new Error(`seed=${seed}: ${detail}\n  replay: ${replay}`, { cause: err })
      if (err instanceof Error && err.stack) wrapped.stack = `${wrapped.message}\n${err.stack}`
      throw wrapped
    }
  }
}

export interface SimKeys {
  identity: KeyPair
  device: KeyPair
  certificate: DeviceCertificate
}

/** Keys drawn from the sim's Random (generateIdentity would use the system RNG). */
export function simKeys(sim: Sim, deviceName: string, identity?: KeyPair): SimKeys {
  const id = identity ?? generateKeyPair(Buffer.from(sim.random.bytes(32)))
  const device = generateKeyPair(Buffer.from(sim.random.bytes(32)))
  const certificate = signDeviceCertificate(id, device.publicKey, deviceName, sim.clock.wallNow())
  return { identity: id, device, certificate }
}

export interface SimNode {
  name: string
  keys: SimKeys
  manager: SessionManager
  identityPublicKey: Buffer
  devicePublicKey: Buffer
}

export interface NodeOptions {
  versions?: { min: number; max: number }
  /** Hello flags (HELLO_FLAG_SUPERNODE). */
  flags?: number
  /** Reuse an identity (another device of the same person). */
  identity?: KeyPair
  /** Announce the device under this identity instead of its own (a lie the DHT cannot catch). */
  announceAs?: Buffer
}

export function addNode(sim: Sim, hub: SimHub, name: string, opts: NodeOptions = {}): SimNode {
  const keys = simKeys(sim, name, opts.identity)
  const manager = new SessionManager({
    network: hub.peerNetwork(name),
    certificate: keys.certificate,
    clock: sim.clock,
    random: sim.fork(),
    agent: `parley-sim/${name}`,
    versions: opts.versions,
    flags: opts.flags,
  })
  hub.addHost(name, keys.device.publicKey, (stream) => {
    // The outcome is seen through the manager's events and counters.
    manager.adopt(stream, null).catch(() => {})
  })
  hub.announce(opts.announceAs ?? keys.identity.publicKey, keys.device.publicKey)
  return {
    name,
    keys,
    manager,
    identityPublicKey: keys.identity.publicKey,
    devicePublicKey: keys.device.publicKey,
  }
}

/** A sim, its hub and two nodes A and B: the shape of most tests. */
export function twoNodes(
  sim: Sim,
  conditions?: LinkConditions,
  opts: { a?: NodeOptions; b?: NodeOptions; keepalive_ms?: number | null } = {},
): { hub: SimHub; a: SimNode; b: SimNode } {
  const hub = new SimHub(sim, conditions, { keepalive_ms: opts.keepalive_ms })
  const a = addNode(sim, hub, 'a', opts.a)
  const b = addNode(sim, hub, 'b', opts.b)
  return { hub, a, b }
}
