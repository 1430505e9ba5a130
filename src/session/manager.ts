import { EventEmitter } from 'node:events'
import type { DeviceCertificate } from '../identity/index.js'
import type { Clock, TimerHandle } from '../util/clock.js'
import { Counters } from '../util/counters.js'
import { isParleyError, ParleyError, throwIfAborted } from '../util/errors.js'
import type { Random } from '../util/random.js'
import { GoodbyeCode, HELLO_FLAG_GATEWAY } from '../wire/index.js'
import { nextBackoff_ms } from './backoff.js'
import {
  CONNECT_TIMEOUT_MS,
  DEVICE_DIAL_STAGGER_MS,
  GATEWAY_TUNNEL_ATTEMPTS,
  RECOVER_DELAYS_MS,
  RECOVER_FOR_MS,
  SESSIONS_MAX,
  SHUTDOWN_FLUSH_MS,
} from './constants.js'
import { Session } from './session.js'
import { acceptTunnel, startTunnel, watchTunnels } from './tunnel.js'
import type { DeviceAddress, FramedStream, PeerNetwork } from './types.js'

export interface SessionManagerOptions {
  network: PeerNetwork
  certificate: DeviceCertificate
  clock: Clock
  random: Random
  agent: string
  sessions_max?: number
  /** Only tests change this (to play an old or future peer). */
  versions?: { min: number; max: number }
  /** Hello flags for every session (HELLO_FLAG_SUPERNODE on a supernode). */
  flags?: number
}

export type ManagerDropReason =
  | 'sessions_full'
  | 'hello_failed'
  | 'tunnel_malformed'
  | 'tunnel_full'
  | 'tunnel_unroutable'

/**
 * What a gateway does with a tunnel whose target is not this device
 * (src/supernode/gateway.ts); it must accept the tunnel before it settles.
 */
export type TunnelRouter = (from: Session, id: Buffer, target: Buffer) => Promise<void>

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/**
 * Owns every session of this device: one per remote device, whoever dialled.
 * Connects by identity (DHT lookup → dial → hello), deduplicates simultaneous
 * connects, and keeps chosen peers connected with backoff.
 */
export class SessionManager extends EventEmitter {
  readonly counters = new Counters<ManagerDropReason>()
  private readonly opts: SessionManagerOptions
  private readonly byDevice = new Map<string, Session>()
  /**
   * Sessions the peer closed as the losing duplicate before the session it kept
   * said hello here (its goodbye overtook that hello on another path): they
   * point at the kept one once it registers, so `current()` leads callers there.
   */
  private readonly awaitingSuccessor = new Map<string, Session>()
  private readonly live = new Set<Session>()
  private readonly dialing = new Map<string, Promise<Session>>()
  private readonly maintained = new Map<
    string,
    { attempt: number; timer: TimerHandle | null; owners: Set<string> }
  >()
  private readonly recovering = new Map<string, TimerHandle>()
  private closing = false
  private tunnelRouter: TunnelRouter | null = null

  constructor(opts: SessionManagerOptions) {
    super()
    this.opts = opts
  }

  get localDevicePublicKey(): Buffer {
    return this.opts.certificate.devicePublicKey
  }

  /** Open sessions, one per remote device. */
  list(): Session[] {
    return [...this.byDevice.values()]
  }

  get(identityPublicKey: Uint8Array): Session | undefined {
    for (const s of this.byDevice.values()) {
      if (!s.closed && s.remoteIdentityPublicKey?.equals(identityPublicKey)) return s
    }
    return undefined
  }

  /** A gateway routes tunnels meant for others; without a router they are refused. */
  setTunnelRouter(router: TunnelRouter | null): void {
    this.tunnelRouter = router
  }

  /** Takes an incoming (or dialled) stream through the hello; resolves to the session kept for that device. */
  adopt(
    stream: FramedStream,
    expectedIdentity: Buffer | null,
    gatewayMayAnswer = false,
  ): Promise<Session> {
    if (this.closing || this.live.size >= (this.opts.sessions_max ?? SESSIONS_MAX)) {
      this.counters.inc('sessions_full')
      stream.destroy()
      return Promise.reject(new ParleyError('SESSION_CLOSED', 'this node is at its session limit'))
    }
    const session = new Session({
      stream,
      certificate: this.opts.certificate,
      expectedIdentity,
      clock: this.opts.clock,
      random: this.opts.random,
      agent: this.opts.agent,
      versions: this.opts.versions,
      flags: this.opts.flags,
      gatewayMayAnswer,
    })
    this.live.add(session)
    session.once('close', () => this.live.delete(session))
    // Before the hello: a tunnel open may arrive in the same batch as the peer's hello.
    this.watchTunnelsOn(session)
    const started_ms = this.opts.clock.now()
    return session.opened.then(
      () => {
        const ms = (this.opts.clock.now() - started_ms).toFixed(1)
        const peer = session.remoteDevicePublicKey.toString('hex').slice(0, 16)
        this.emit('debug', `hello with ${peer} in ${ms} ms`)
        return this.register(session)
      },
      (err) => {
        this.counters.inc('hello_failed')
        throw err
      },
    )
  }

  private register(session: Session): Session {
    const key = hex(session.remoteDevicePublicKey)
    const existing = this.byDevice.get(key)
    const duplicate = existing !== undefined && !existing.closed && existing !== session
    if (duplicate && !this.prefer(session, existing)) {
      session.replacedBy = existing
      session.close(GoodbyeCode.DuplicateSession, 'a session between our devices already exists')
      return existing
    }
    // Record the winner before closing the loser, so the loser's close finds a
    // live session and does not trigger a reconnect.
    this.byDevice.set(key, session)
    const orphan = this.awaitingSuccessor.get(key)
    if (orphan !== undefined && orphan !== session) orphan.replacedBy = session
    this.awaitingSuccessor.delete(key)
    session.once('close', (info) => {
      if (this.byDevice.get(key) === session) this.byDevice.delete(key)
      if (
        info.by === 'remote' &&
        info.code === GoodbyeCode.DuplicateSession &&
        session.replacedBy === null &&
        this.byDevice.get(key) === undefined
      ) {
        if (this.awaitingSuccessor.size >= (this.opts.sessions_max ?? SESSIONS_MAX)) {
          this.awaitingSuccessor.delete(this.awaitingSuccessor.keys().next().value!)
        }
        this.awaitingSuccessor.set(key, session)
      }
      this.emit('session-closed', session, info)
      // A gateway link is the network's own business (src/net/gateway-client.ts).
      const gateway = (session.remoteFlags & HELLO_FLAG_GATEWAY) !== 0
      // The peer kept a duplicate we no longer hold: its own copy is dead but not yet
      // noticed (PROTOCOL.md §5.8), so try again once it has been silent long enough.
      const keptElsewhere =
        info.by === 'remote' &&
        info.code === GoodbyeCode.DuplicateSession &&
        this.get(session.remoteIdentityPublicKey!) === undefined
      if ((info.lost || keptElsewhere) && session.replacedBy === null && !gateway) {
        this.recover(session.remoteIdentityPublicKey!)
      }
      this.onMaintainedClosed(session)
    })
    if (duplicate) {
      existing.replacedBy = session
      existing.close(GoodbyeCode.DuplicateSession, 'a session between our devices already exists')
    }
    const id = hex(session.remoteIdentityPublicKey!)
    const m = this.maintained.get(id)
    if (m !== undefined) m.attempt = 0
    this.emit('session', session)
    return session
  }

  /**
   * Tunnels addressed to our identity become sessions of their own (we are
   * the inner responder); others go to the gateway's router, if any.
   */
  private watchTunnelsOn(session: Session): void {
    const self = this.opts.certificate.identityPublicKey
    watchTunnels(
      session,
      async (id, target) => {
        // Decided once the hello is through (protomux holds the open meanwhile).
        await session.opened
        if (!target.equals(self)) {
          if (this.tunnelRouter === null) throw new Error('not a gateway')
          await this.tunnelRouter(session, id, target)
          return
        }
        const secure = this.opts.network.secure
        if (secure === undefined) throw new Error('this network has no tunnels')
        const tunnel = acceptTunnel(session, id)
        secure
          .call(this.opts.network, tunnel, false)
          .then((inner) => this.adopt(inner, null))
          .then(
            (s) =>
              this.emit(
                'debug',
                `tunnelled session from ${hex(s.remoteDevicePublicKey).slice(0, 16)} kept`,
              ),
            (err: Error) => {
              this.emit('debug', `tunnelled session failed: ${err.message}`)
              tunnel.destroy()
            },
          )
      },
      (reason) => this.counters.inc(`tunnel_${reason}`),
    )
  }

  /**
   * Waits until every session from this device that is still before its hello
   * has opened or failed; says whether there was any.
   */
  private async helloesFrom(
    devicePublicKey: Buffer,
    except: Session | null = null,
  ): Promise<boolean> {
    const pending = [...this.live].filter(
      (s) =>
        s !== except &&
        !s.closed &&
        s.remoteCertificate === null &&
        s.remoteDevicePublicKey.equals(devicePublicKey),
    )
    if (pending.length === 0) return false
    await Promise.allSettled(pending.map((p) => p.opened))
    return true
  }

  /**
   * Resolves to the session that will stand for `session` once any duplicate
   * still in its hello has been decided. The session dialled by the smaller
   * device key wins, so a session can lose only if it was dialled by the
   * larger one: ours towards a smaller key, or the peer's from a larger key
   * while our own dial to it is still in its hello.
   */
  private async settled(session: Session): Promise<Session> {
    const localIsSmaller =
      Buffer.compare(this.localDevicePublicKey, session.remoteDevicePublicKey) < 0
    const canLose = session.isInitiator !== localIsSmaller
    if (canLose) await this.helloesFrom(session.remoteDevicePublicKey, session)
    return this.current(session)
  }

  /**
   * Both sides must keep the same one of two sessions between the same two
   * devices: the one dialled by the smaller device key (docs/PROTOCOL.md).
   * Two sessions dialled the same way mean the old one is stale: keep the new.
   */
  private prefer(candidate: Session, existing: Session): boolean {
    if (candidate.isInitiator === existing.isInitiator) return true
    if (existing.presumedDead()) return true
    const localIsSmaller =
      Buffer.compare(this.localDevicePublicKey, candidate.remoteDevicePublicKey) < 0
    return candidate.isInitiator === localIsSmaller
  }

  /** Connects to an identity (or returns the open session); fails with PEER_NOT_FOUND within the deadline. */
  connect(
    identityPublicKey: Buffer,
    opts: { signal?: AbortSignal; timeout_ms?: number } = {},
  ): Promise<Session> {
    const open = this.get(identityPublicKey)
    if (open !== undefined) return Promise.resolve(open)
    const id = hex(identityPublicKey)
    const pending = this.dialing.get(id)
    if (pending !== undefined) return pending
    const p = this.dial(identityPublicKey, opts, (key, signal) =>
      this.tryDevices(key, signal),
    ).finally(() => this.dialing.delete(id))
    this.dialing.set(id, p)
    return p
  }

  /**
   * What a gateway opens a tunnel on (§5.11): the open session with the
   * identity, or a new one with it or with a gateway that answers for it. Like
   * `connect`, it rides out a duplicate contest with a peer that dials us at
   * the same moment and hands back the session both sides keep; a tunnel on
   * the loser would close with it.
   */
  reachSettled(identityPublicKey: Buffer): Promise<Session> {
    const open = this.get(identityPublicKey)
    if (open !== undefined) return Promise.resolve(open)
    return this.dial(identityPublicKey, {}, (key, signal) => this.reach(key, signal))
  }

  private dial(
    identityPublicKey: Buffer,
    opts: { signal?: AbortSignal; timeout_ms?: number },
    attempt: (identityPublicKey: Buffer, signal: AbortSignal) => Promise<Session>,
  ): Promise<Session> {
    const timeout_ms = opts.timeout_ms ?? CONNECT_TIMEOUT_MS
    const abort = new AbortController()
    const onOuterAbort = () => abort.abort()
    opts.signal?.addEventListener('abort', onOuterAbort, { once: true })
    return new Promise<Session>((resolve, reject) => {
      let settled = false
      const settle = (err: Error | null, s?: Session) => {
        if (settled) return
        settled = true
        this.off('session', onSession)
        this.opts.clock.clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onOuterAbort)
        abort.abort()
        if (err !== null) reject(err)
        else resolve(s!)
      }
      // A session may also arrive the other way (the peer dialled us at the same time).
      const onSession = (s: Session) => {
        if (!s.remoteIdentityPublicKey?.equals(identityPublicKey)) return
        this.settled(s).then((kept) => settle(null, kept))
      }
      this.on('session', onSession)
      const timer = this.opts.clock.setTimeout(
        () => settle(notFound(identityPublicKey, `no answer within ${timeout_ms} ms`)),
        timeout_ms,
      )
      abort.signal.addEventListener('abort', () => {
        if (opts.signal?.aborted) settle(new ParleyError('ABORTED', 'the connect was cancelled'))
      })
      attempt(identityPublicKey, abort.signal).then(
        (s) => this.settled(s).then((kept) => settle(null, kept)),
        (err: unknown) => {
          // A duplicate we lost means the winning session is on its way: keep waiting for it.
          if (isParleyError(err, 'SESSION_CLOSED') && /duplicate|already exists/.test(err.message))
            return
          settle(err instanceof Error ? err : new Error(String(err)))
        },
      )
    })
  }

  private async tryDevices(identityPublicKey: Buffer, signal: AbortSignal): Promise<Session> {
    const reached = await this.reach(identityPublicKey, signal)
    if (reached.remoteIdentityPublicKey?.equals(identityPublicKey)) return reached
    return this.throughGateway(reached, identityPublicKey, signal)
  }

  /**
   * A session with the identity itself, or with a gateway that announces it
   * (HELLO_FLAG_GATEWAY; PROTOCOL.md §5.11). Callers take it through `dial`,
   * which waits out a duplicate contest (`connect`, `reachSettled`).
   */
  private async reach(identityPublicKey: Buffer, signal: AbortSignal): Promise<Session> {
    // Devices are dialled as the lookup finds them, staggered (DEVICE_DIAL_STAGGER_MS);
    // the first session wins and the other dials are cancelled.
    const race = new AbortController()
    const onAbort = () => race.abort()
    signal.addEventListener('abort', onAbort, { once: true })
    let winner: Session | null = null
    let lastError: unknown = null
    const dials: Promise<void>[] = []
    const dial = (device: DeviceAddress) =>
      this.reachDevice(identityPublicKey, device, race.signal).then(
        ({ session, fresh }) => {
          if (winner === null) {
            winner = session
            race.abort()
          } else if (fresh && session !== winner) {
            session.close(GoodbyeCode.Normal, 'another device answered first')
          }
        },
        (err: unknown) => {
          lastError = err
        },
      )
    try {
      for await (const device of this.opts.network.findDevices(identityPublicKey, race.signal)) {
        const settled = dial(device)
        dials.push(settled)
        let stagger: TimerHandle | null = null
        const staggered = new Promise<void>((resolve) => {
          stagger = this.opts.clock.setTimeout(resolve, DEVICE_DIAL_STAGGER_MS)
        })
        await Promise.race([settled, staggered])
        this.opts.clock.clearTimeout(stagger!)
        if (winner !== null) break
        // A peer that cannot talk to us is a final answer.
        if (isParleyError(lastError, 'INCOMPATIBLE_VERSION')) throw lastError
      }
      if (winner === null) await Promise.all(dials)
    } catch (err) {
      // The lookup ends with an abort once a device answered; anything else is real.
      if (winner === null && !race.signal.aborted) throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
      // A final answer or an outer cancel: the dials still running are not needed.
      if (winner === null) race.abort()
    }
    if (winner !== null) return winner
    throwIfAborted(signal)
    if (isParleyError(lastError) && lastError.code !== 'PEER_NOT_FOUND') throw lastError
    throw notFound(
      identityPublicKey,
      lastError === null
        ? 'no device of it is announced on the network'
        : 'its devices did not answer',
    )
  }

  /** One device of a `reach`: an open session (fresh: false) or a newly dialled one. */
  private async reachDevice(
    identityPublicKey: Buffer,
    device: DeviceAddress,
    signal: AbortSignal,
  ): Promise<{ session: Session; fresh: boolean }> {
    // The device is dialling us right now: wait for that session rather than race it.
    if (await this.helloesFrom(device.publicKey)) {
      const open = this.get(identityPublicKey)
      if (open !== undefined) return { session: open, fresh: false }
    }
    // A gateway we already talk to answers for many identities.
    const known = this.byDevice.get(hex(device.publicKey))
    if (known !== undefined && !known.closed && this.answersFor(known, identityPublicKey)) {
      return { session: known, fresh: false }
    }
    const stream = await this.opts.network.connect(device, signal)
    return { session: await this.adopt(stream, identityPublicKey, true), fresh: true }
  }

  private answersFor(session: Session, identityPublicKey: Buffer): boolean {
    return (
      session.remoteIdentityPublicKey?.equals(identityPublicKey) === true ||
      (session.remoteFlags & HELLO_FLAG_GATEWAY) !== 0
    )
  }

  /**
   * Opens a tunnel through the gateway and runs our own handshake inside (we
   * are the initiator). The handshake starts with the open, not after the
   * gateway and the far end answered it: that saves a round trip to the far
   * end on every connect through a gateway (§5.11).
   */
  private async throughGateway(
    gateway: Session,
    identityPublicKey: Buffer,
    signal: AbortSignal,
    attempts = GATEWAY_TUNNEL_ATTEMPTS,
  ): Promise<Session> {
    const secure = this.opts.network.secure
    if (secure === undefined) throw new ParleyError('PEER_NOT_FOUND', 'this network has no tunnels')
    const { tunnel, accepted } = startTunnel(gateway, identityPublicKey, this.opts.random)
    let refused: unknown = null
    accepted.catch((err: unknown) => {
      refused = err
    })
    try {
      const inner = await secure.call(this.opts.network, tunnel, true)
      return await this.adopt(inner, identityPublicKey)
    } catch (err) {
      tunnel.destroy()
      // A refused or closed tunnel says why better than the handshake it cut short.
      if (refused !== null) throw refused
      if (!tunnel.closedByRemote) throw err
      // The gateway took the tunnel and then closed it before our handshake
      // ended: it lost its session to the peer, most often to a duplicate
      // contest with the peer's own dial to it at that moment (§5.8), and holds
      // the kept one by now. Another tunnel, within the same deadline.
      if (attempts > 1 && !gateway.closed && !signal.aborted) {
        this.emit('debug', 'the gateway closed our tunnel before the handshake ended; again')
        return this.throughGateway(gateway, identityPublicKey, signal, attempts - 1)
      }
      throw new ParleyError('PEER_NOT_FOUND', 'the gateway could not reach the peer')
    }
  }

  /**
   * The session that now stands for `session`: itself, or the one that replaced
   * it when two simultaneous connects were deduplicated. A caller that connected
   * just before the contest was decided may hold the loser; this finds the winner.
   */
  current(session: Session): Session {
    let s = session
    for (let hops = 0; s.replacedBy !== null && hops < 8; hops++) s = s.replacedBy
    return s
  }

  /**
   * Failover: a session whose path died (relay or gateway gone, network
   * change) comes back by itself. Both sides try; the duplicate rule keeps
   * one. Gives up after RECOVER_FOR_MS (maintained peers go on with backoff).
   */
  private recover(identityPublicKey: Buffer): void {
    const id = hex(identityPublicKey)
    // A maintained peer reconnects on its own schedule (maintain(), §5.9 backoff).
    if (this.closing || this.maintained.has(id) || this.recovering.has(id)) return
    if (this.recovering.size >= SESSIONS_MAX) return
    const started_ms = this.opts.clock.now()
    let attempt = 0
    const next = () => {
      const delay = RECOVER_DELAYS_MS[Math.min(attempt++, RECOVER_DELAYS_MS.length - 1)]!
      this.recovering.set(id, this.opts.clock.setTimeout(tryOnce, delay))
    }
    const tryOnce = () => {
      if (this.closing || this.get(identityPublicKey) !== undefined) {
        this.recovering.delete(id)
        return
      }
      const retry = () => {
        if (this.opts.clock.now() - started_ms >= RECOVER_FOR_MS) this.recovering.delete(id)
        else next()
      }
      this.connect(identityPublicKey).then(() => {
        // The peer may have kept a stale duplicate and closed ours already (§5.8).
        if (this.get(identityPublicKey) === undefined) return retry()
        this.recovering.delete(id)
        this.emit('recovered', identityPublicKey)
      }, retry)
    }
    next()
  }

  /** Keeps a session to this identity, reconnecting with exponential backoff. */
  maintain(identityPublicKey: Buffer, owner = 'default'): void {
    const id = hex(identityPublicKey)
    const m = this.maintained.get(id)
    if (m !== undefined) {
      m.owners.add(owner)
      return
    }
    this.maintained.set(id, { attempt: 0, timer: null, owners: new Set([owner]) })
    if (this.get(identityPublicKey) === undefined) this.scheduleReconnect(identityPublicKey, 0)
  }

  /** Drops `owner`'s interest; the peer stays maintained while another owner (chat, a transfer) wants it. */
  release(identityPublicKey: Buffer, owner = 'default'): void {
    const id = hex(identityPublicKey)
    const m = this.maintained.get(id)
    if (m === undefined) return
    m.owners.delete(owner)
    if (m.owners.size > 0) return
    if (m.timer) this.opts.clock.clearTimeout(m.timer)
    this.maintained.delete(id)
  }

  private onMaintainedClosed(session: Session): void {
    const identity = session.remoteIdentityPublicKey
    if (identity === null || this.closing) return
    const m = this.maintained.get(hex(identity))
    if (m === undefined || m.timer !== null || this.get(identity) !== undefined) return
    this.scheduleReconnect(identity, nextBackoff_ms(m.attempt++, this.opts.random))
  }

  private scheduleReconnect(identityPublicKey: Buffer, delay_ms: number): void {
    const m = this.maintained.get(hex(identityPublicKey))
    if (m === undefined) return
    m.timer = this.opts.clock.setTimeout(() => {
      m.timer = null
      if (this.closing || !this.maintained.has(hex(identityPublicKey))) return
      this.connect(identityPublicKey).then(
        () => this.emit('reconnected', identityPublicKey),
        () => {
          if (this.get(identityPublicKey) !== undefined) return
          this.scheduleReconnect(identityPublicKey, nextBackoff_ms(m.attempt++, this.opts.random))
        },
      )
    }, delay_ms)
  }

  /** Says goodbye to every peer. */
  /**
   * Says goodbye to every peer. Sessions through a gateway go first and the
   * gateway links last (once those have closed, or after SHUTDOWN_FLUSH_MS):
   * closing a link first would drop the tunnelled goodbyes, and the peers
   * would take the shutdown for a lost path and reconnect (§5.9).
   */
  async close(): Promise<void> {
    this.closing = true
    for (const m of this.maintained.values()) if (m.timer) this.opts.clock.clearTimeout(m.timer)
    this.maintained.clear()
    for (const t of this.recovering.values()) this.opts.clock.clearTimeout(t)
    this.recovering.clear()
    const isLink = (s: Session) => (s.remoteFlags & HELLO_FLAG_GATEWAY) !== 0
    const first = [...this.live].filter((s) => !isLink(s))
    for (const s of first) s.close(GoodbyeCode.ShuttingDown, 'the peer is shutting down')
    const links = [...this.live].filter(isLink)
    if (links.length === 0) return
    const tunnelled = first.filter((s) => s.path === 'gateway' && !s.stream.destroyed)
    await new Promise<void>((resolve) => {
      const timer = this.opts.clock.setTimeout(resolve, SHUTDOWN_FLUSH_MS)
      let pending = tunnelled.length
      const done = () => {
        if (--pending > 0) return
        this.opts.clock.clearTimeout(timer)
        resolve()
      }
      if (pending === 0) done()
      for (const s of tunnelled) s.stream.once('close', done)
    })
    for (const s of links) s.close(GoodbyeCode.ShuttingDown, 'the peer is shutting down')
  }
}

function notFound(identityPublicKey: Uint8Array, detail: string): ParleyError {
  return new ParleyError(
    'PEER_NOT_FOUND',
    `peer not found: ${detail} (is it online, and is the ID right? ${hex(identityPublicKey).slice(0, 8)}…)`,
  )
}
