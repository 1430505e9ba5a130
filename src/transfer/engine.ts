// Every file transfer of this node: one `parley/transfer` channel per peer
// session, the transfers in both directions, their records on disk, and the
// operations the local API exposes (send, accept, decline, cancel, list).
// It runs over any session path (direct, relayed, gateway): it only needs
// the session's protomux (docs/PROTOCOL.md §8).

import { EventEmitter } from 'node:events'
import { constants as fsConstants } from 'node:fs'
import { access, mkdir, stat } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { decodeId, encodeId } from '../identity/index.js'
import type { Clock } from '../util/clock.js'
import { Counters } from '../util/counters.js'
import { decodeDropReason, isParleyError, ParleyError } from '../util/errors.js'
import type { Random } from '../util/random.js'
import { type PeerLink, TransferChannels } from './channels.js'
import { type ChunkIo, InlineChunkIo } from './chunk-pool.js'
import {
  FILE_BYTES_MAX,
  FOLDER_ACCEPT_MS,
  INCOMING_FILE_BYTES_MAX,
  OFFERS_PENDING_MAX,
  RefusalCode,
  TRANSFER_ID_BYTES,
  TRANSFERS_ACTIVE_MAX,
  TRANSFERS_KEPT_MAX,
} from './constants.js'
import { FolderSender, type FolderView } from './folders.js'
import { hashFile } from './hash.js'
import { Incoming } from './incoming.js'
import { folderOf, pathProblem } from './names.js'
import { Outgoing } from './outgoing.js'
import { Progress, type TransferView, transferView } from './progress.js'
import { checkDestination, chunkBytesFor, findPlaced, isActive, refusalError } from './rules.js'
import { HASH_NAME, TERMINAL_STATES, type TransferRecord, TransferStore } from './store.js'
import { decodeTransfer, type Offer, type TransferMessage } from './wire.js'

export interface TransferEngineOptions {
  home: string
  clock: Clock
  random: Random
  /** The `filetransfer` setting: off refuses to send and declines every offer (code Disabled). */
  enabled: boolean
  /** Parley IDs whose offers are accepted without asking, into `download_dir`. */
  auto_accept_from: readonly string[]
  download_dir: string
  /** Dials the peer (resolves when a session is open); failures are retried by `maintain`. */
  connect(identity: Buffer): Promise<unknown>
  /**
   * Keeps a session to the peer while `owner` wants it (one owner per
   * transfer, `transfer:<id>`, so ending one transfer never drops the
   * keep-alive another one with the same peer still needs).
   */
  maintain(identity: Buffer, owner: string): void
  release(identity: Buffer, owner: string): void
  /** Test double on the path: may alter a chunk after it was hashed. */
  tamper?(index: number, data: Buffer): void
  /**
   * Where chunks are hashed and written. Default: on the event loop and
   * libuv's pool (InlineChunkIo). A ChunkPool of worker threads takes the
   * hashing off the event loop but costs ~20 MB of RSS per worker, which the
   * 150 MB budget of a receiving daemon does not leave room for.
   */
  chunks?: ChunkIo
}

export type TransferCounter =
  | 'malformed'
  | 'oversize'
  | 'unknown_type'
  | 'unknown_transfer'
  | 'wrong_direction'
  | 'id_clash'
  | 'unrequested'
  | 'corrupt_chunk'
  | 'request_overflow'
  | 'request_out_of_range'
  // Not drops: work done, so tests and operators can see what crossed the wire.
  | 'chunks_sent'
  | 'chunks_verified'

interface Entry {
  record: TransferRecord
  incoming: Incoming | null
  outgoing: Outgoing | null
  progress: Progress
  /** finish() ran: the end was recorded and announced once. */
  finished: boolean
}

export class TransferEngine extends EventEmitter {
  readonly counters = new Counters<TransferCounter>()
  readonly store: TransferStore
  private readonly opts: TransferEngineOptions
  private readonly chunks: ChunkIo
  private readonly entries = new Map<string, Entry>()
  private readonly channels: TransferChannels
  /** Transfers (ids) whose peer this engine asked to keep a session with. */
  private readonly maintained = new Set<string>()
  /** Offers being accepted now (a person and an auto-accept may race for one). */
  private readonly accepting = new Set<string>()
  /** Folders this node sends (§8.5): one transfer per file, a few at a time. */
  readonly folders: FolderSender
  private closed = false

  constructor(opts: TransferEngineOptions) {
    super()
    this.opts = opts
    this.store = new TransferStore(opts.home)
    this.chunks = opts.chunks ?? new InlineChunkIo()
    this.channels = new TransferChannels({
      opened: (peer) => this.onPeerOpen(peer),
      lost: (peer) => {
        for (const e of this.entriesOf(peer)) {
          e.incoming?.channelLost()
          e.outgoing?.channelLost()
        }
      },
      drained: (peer) => {
        for (const e of this.entriesOf(peer)) e.outgoing?.onDrain()
      },
      frame: (peer, raw) => this.onFrame(peer, raw),
    })
    this.folders = new FolderSender(
      this.store.dir,
      {
        sendFile: async (peer, path, name, folder_id) => {
          if (this.closed) throw new ParleyError('BUSY', 'the daemon is stopping')
          return this.send(peer, path, { name, folder_id })
        },
        cancel: (id) => this.cancel(id),
        list: () => this.list(),
      },
      opts.clock,
      opts.random,
      (folder) => this.emit('event', { type: 'folder.updated', folder }),
    )
    this.on('event', (e: { transfer?: TransferView }) => {
      if (e.transfer !== undefined && !this.closed) this.folders.onTransfer(e.transfer)
    })
  }

  /** Loads records from disk and resumes what was running. */
  async start(): Promise<string[]> {
    await this.store.init()
    const { records, warnings } = await this.store.loadAll()
    records.sort((a, b) => a.created_at_ms - b.created_at_ms)
    for (const record of records) {
      const entry = this.addEntry(record)
      try {
        if (!TERMINAL_STATES.has(record.state) && record.hash !== HASH_NAME) {
          throw new Error(
            'it was started by an older Parley, whose file hashes (BLAKE2b) this one no longer uses; send the file again',
          )
        }
        if (record.direction === 'out' && !TERMINAL_STATES.has(record.state)) {
          const hashes = await this.store.loadHashes(record.id)
          if (hashes === null || record.state === 'preparing')
            throw new Error('its hashes are missing')
          entry.outgoing = this.makeOutgoing(entry, hashes)
        } else if (
          record.direction === 'in' &&
          (record.state === 'receiving' || record.state === 'moving')
        ) {
          const placed = record.state === 'moving' ? await findPlaced(record, this.chunks) : null
          if (placed !== null) {
            // The crash came after the move and before the record said so.
            record.final_path = placed
            this.finish(entry, 'completed', null)
            continue
          }
          record.state = 'receiving'
          entry.incoming = this.makeIncoming(entry)
          await entry.incoming.open()
        }
      } catch (err) {
        warnings.push(`transfer ${record.id} cannot resume: ${(err as Error).message}`)
        this.finish(entry, 'failed', { code: 'TRANSFER_FAILED', message: (err as Error).message })
      }
    }
    for (const e of this.entries.values()) this.refreshMaintained(e)
    warnings.push(...(await this.folders.start()))
    // Sessions that opened while the records were loading.
    for (const peer of this.channels.openPeers()) this.onPeerOpen(peer)
    return warnings
  }

  // ---- channels ----

  /** A new session: opens the transfer channel on it (§8.1). */
  attach(link: PeerLink): void {
    if (!this.closed) this.channels.attach(link)
  }

  private sendTo(peer: string, m: TransferMessage): boolean {
    return this.channels.send(peer, m)
  }

  private onPeerOpen(peer: string): void {
    for (const e of this.entriesOf(peer)) {
      // A new session replaces the old one, which may not have noticed yet that
      // it is dead: whatever was requested or queued on it will never come.
      e.incoming?.channelLost()
      e.outgoing?.channelLost()
      if (e.outgoing !== null && !TERMINAL_STATES.has(e.record.state)) {
        // OFFER is idempotent: it also asks a receiver that restarted where it stands.
        this.sendTo(peer, e.outgoing.offerMessage())
      }
      if (e.incoming !== null && e.record.state === 'receiving') {
        this.sendTo(peer, { type: 'accept', id: Buffer.from(e.record.id, 'hex') })
        e.incoming.pump()
      }
    }
  }

  private onFrame(peer: string, raw: Buffer): void {
    let m: TransferMessage
    try {
      m = decodeTransfer(raw)
    } catch (err) {
      this.counters.inc(decodeDropReason(err))
      return
    }
    if (m.type === 'offer') {
      void this.onOffer(peer, m)
      return
    }
    const e = this.entries.get(m.id.toString('hex'))
    if (e === undefined || e.record.peer !== peer) {
      this.counters.inc('unknown_transfer')
      // A receiver resuming a transfer this sender forgot must be told, or it waits forever.
      if (m.type === 'request') {
        this.sendTo(peer, {
          type: 'cancel',
          id: m.id,
          code: RefusalCode.Unknown,
          reason: 'no such transfer',
        })
      }
      return
    }
    this.dispatch(e, m)
  }

  private dispatch(e: Entry, m: TransferMessage): void {
    const out = e.outgoing
    const inc = e.incoming
    switch (m.type) {
      case 'accept':
        if (out === null) break
        if (e.record.state === 'offered') this.setState(e, 'sending')
        return
      case 'request':
        if (out === null) break
        out.onRequest(m.index, m.count)
        return
      case 'data':
        if (inc === null) break
        inc.onData(m.index, m.hash, m.data)
        return
      case 'done':
        if (out === null) break
        if (TERMINAL_STATES.has(e.record.state)) return
        void out.stop()
        out.bytes_done = e.record.size
        this.finish(e, 'completed', null)
        return
      case 'decline':
      case 'cancel': {
        if (TERMINAL_STATES.has(e.record.state)) return
        const who = e.record.direction === 'out' ? 'the recipient' : 'the sender'
        const error = refusalError(m.type, m.code, `${who}: ${m.reason}`)
        void (out ?? inc)?.stop()
        this.finish(e, m.type === 'decline' ? 'declined' : 'cancelled', error)
        return
      }
      default:
        break
    }
    this.counters.inc('wrong_direction')
  }

  // ---- receiving ----

  private async onOffer(peer: string, m: Offer): Promise<void> {
    const id = m.id.toString('hex')
    const known = this.entries.get(id)
    if (known !== undefined) {
      if (known.record.peer !== peer || known.record.direction !== 'in') {
        this.counters.inc('id_clash')
        return
      }
      this.answerRepeatedOffer(peer, known)
      return
    }
    const refuse = (code: RefusalCode, reason: string) =>
      this.sendTo(peer, { type: 'decline', id: m.id, code, reason })
    if (!this.opts.enabled) {
      refuse(RefusalCode.Disabled, 'file transfer is turned off on this node (filetransfer: false)')
      return
    }
    const problem = pathProblem(m.name)
    if (problem !== null) {
      refuse(RefusalCode.BadName, `file name refused: ${problem}`)
      return
    }
    if (m.size > INCOMING_FILE_BYTES_MAX) {
      refuse(
        RefusalCode.TooLarge,
        `files over ${INCOMING_FILE_BYTES_MAX} bytes are not accepted here`,
      )
      return
    }
    const pending = [...this.entries.values()].filter((e) => e.record.state === 'offered').length
    if (pending >= OFFERS_PENDING_MAX) {
      refuse(RefusalCode.Busy, 'too many offers are waiting for an answer here; try again later')
      return
    }
    const record: TransferRecord = {
      id,
      direction: 'in',
      peer,
      name: m.name,
      size: m.size,
      chunk_bytes: m.chunk_bytes,
      file_hash: m.file_hash.toString('hex'),
      hash: HASH_NAME,
      state: 'offered',
      created_at_ms: this.opts.clock.wallNow(),
      finished_at_ms: null,
      error: null,
    }
    const entry = this.addEntry(record)
    await this.store.save(record)
    this.emit('event', { type: 'transfer.offered', transfer: this.view(entry) })
    const folderDir = this.folderAccepted(record)
    if (this.opts.auto_accept_from.includes(peer) || folderDir !== null) {
      try {
        await this.accept(id, folderDir ?? this.opts.download_dir, folderDir !== null)
      } catch (err) {
        // Someone else (the person, or accepting the whole folder) is accepting it.
        if (this.accepting.has(id) || entry.record.state !== 'offered') return
        const code = isParleyError(err, 'DISK_FULL') ? RefusalCode.NoSpace : RefusalCode.Failed
        refuse(code, (err as Error).message)
        this.finish(entry, 'declined', {
          code: 'TRANSFER_DECLINED',
          message: (err as Error).message,
        })
      }
    }
  }

  /**
   * The destination of a folder its person accepted as a whole (`accept
   * --folder`) if this offer is a file of it: same peer, same top folder,
   * and a file of it accepted, running or finished within FOLDER_ACCEPT_MS.
   */
  private folderAccepted(r: TransferRecord): string | null {
    const top = folderOf(r.name)
    if (top === null) return null
    const since = this.opts.clock.wallNow() - FOLDER_ACCEPT_MS
    for (const e of this.entries.values()) {
      const o = e.record
      if (o === r || o.folder_accept !== true || o.peer !== r.peer || o.direction !== 'in') continue
      if (folderOf(o.name) !== top || o.dir === undefined) continue
      const recent = Math.max(o.created_at_ms, o.finished_at_ms ?? 0) >= since
      if (recent || !TERMINAL_STATES.has(o.state)) return o.dir
    }
    return null
  }

  private answerRepeatedOffer(peer: string, e: Entry): void {
    const id = Buffer.from(e.record.id, 'hex')
    const state = e.record.state
    if (state === 'receiving') {
      this.sendTo(peer, { type: 'accept', id })
      e.incoming?.pump()
    } else if (state === 'completed') {
      this.sendTo(peer, { type: 'done', id })
    } else if (state === 'declined' || state === 'cancelled' || state === 'failed') {
      const code = state === 'declined' ? RefusalCode.ByUser : RefusalCode.Failed
      const reason = e.record.error?.message ?? state
      this.sendTo(peer, {
        type: state === 'declined' ? 'decline' : 'cancel',
        id,
        code,
        reason: reason.slice(0, 200),
      })
    }
  }

  /**
   * Accepts an offer into `dir` (default: the download directory). With
   * `folder`, for a file of a folder (§8.5): also every other offer of that
   * folder from that peer, now and as they come (FOLDER_ACCEPT_MS).
   */
  async accept(idOrPrefix: string, dir?: string, folder = false): Promise<TransferView> {
    const e = this.find(idOrPrefix)
    if (this.accepting.has(e.record.id)) {
      throw new ParleyError('USAGE', `transfer ${e.record.id.slice(0, 8)} is being accepted`)
    }
    this.accepting.add(e.record.id)
    try {
      return await this.acceptEntry(e, dir, folder)
    } finally {
      this.accepting.delete(e.record.id)
    }
  }

  private async acceptEntry(
    e: Entry,
    dir: string | undefined,
    folder: boolean,
  ): Promise<TransferView> {
    const top = folderOf(e.record.name)
    if (folder && top === null) {
      throw new ParleyError('USAGE', `${e.record.name} is a single file, not a file of a folder`)
    }
    if (e.record.direction !== 'in' || e.record.state !== 'offered') {
      throw new ParleyError(
        'USAGE',
        `transfer ${e.record.id.slice(0, 8)} is ${e.record.state}, not an offer waiting for you`,
      )
    }
    if (this.activeCount() >= TRANSFERS_ACTIVE_MAX) {
      throw new ParleyError(
        'BUSY',
        `${TRANSFERS_ACTIVE_MAX} transfers are running; wait for one to finish`,
      )
    }
    const target = resolve(dir ?? this.opts.download_dir)
    if (target === resolve(this.opts.download_dir))
      await mkdir(target, { recursive: true, mode: 0o700 })
    await checkDestination(target, e.record.size)
    e.record.dir = target
    if (folder) e.record.folder_accept = true
    e.record.part_path = join(target, `.parley-${e.record.id}.part`)
    e.record.state = 'receiving'
    e.incoming = this.makeIncoming(e)
    await e.incoming.open()
    await this.store.save(e.record)
    this.sendTo(e.record.peer, { type: 'accept', id: Buffer.from(e.record.id, 'hex') })
    this.refreshMaintained(e)
    this.changed(e, true)
    e.incoming.pump()
    if (folder) {
      for (const o of [...this.entries.values()]) {
        const r = o.record
        if (r.direction !== 'in' || r.state !== 'offered' || r.peer !== e.record.peer) continue
        if (folderOf(r.name) === top) await this.accept(r.id, target, true).catch(() => {})
      }
    }
    return this.view(e)
  }

  async decline(idOrPrefix: string): Promise<TransferView> {
    const e = this.find(idOrPrefix)
    if (e.record.direction !== 'in' || e.record.state !== 'offered') {
      throw new ParleyError(
        'USAGE',
        `transfer ${e.record.id.slice(0, 8)} is ${e.record.state}; only an offer can be declined`,
      )
    }
    const id = Buffer.from(e.record.id, 'hex')
    this.sendTo(e.record.peer, {
      type: 'decline',
      id,
      code: RefusalCode.ByUser,
      reason: 'declined by the recipient',
    })
    this.finish(e, 'declined', { code: 'TRANSFER_DECLINED', message: 'you declined it' })
    return this.view(e)
  }

  async cancel(idOrPrefix: string): Promise<TransferView | FolderView> {
    const p = idOrPrefix.trim().toLowerCase()
    const folders = /^[0-9a-f]{4,32}$/.test(p) ? this.folders.match(p) : []
    if (folders.length === 1 && !this.list().some((t) => t.id.startsWith(p))) {
      return (await this.folders.cancel(folders[0]!))!
    }
    const e = this.find(idOrPrefix)
    if (TERMINAL_STATES.has(e.record.state)) {
      throw new ParleyError(
        'USAGE',
        `transfer ${e.record.id.slice(0, 8)} is already ${e.record.state}`,
      )
    }
    const id = Buffer.from(e.record.id, 'hex')
    this.sendTo(e.record.peer, {
      type: 'cancel',
      id,
      code: RefusalCode.ByUser,
      reason: 'cancelled',
    })
    await (e.incoming ?? e.outgoing)?.stop()
    this.finish(e, 'cancelled', { code: 'TRANSFER_CANCELLED', message: 'you cancelled it' })
    return this.view(e)
  }

  // ---- sending ----

  /** Offers a file, or a folder (§8.5: one transfer per file), to a peer. */
  async sendPath(peerId: string, path: string): Promise<TransferView | FolderView> {
    const source = resolve(path)
    const info = await stat(source).catch(() => null)
    if (info === null || !info.isDirectory()) return this.send(peerId, source)
    if (!this.opts.enabled) return this.send(peerId, source) // the same refusal as a file
    return this.folders.send(encodeId(decodeId(peerId)), source)
  }

  /**
   * Offers a file to a peer: hashes it (state `preparing`), then offers it
   * whenever the peer is reachable. `folder`: a file of a folder send, offered
   * under its relative path.
   */
  async send(
    peerId: string,
    path: string,
    folder?: { name: string; folder_id: string },
  ): Promise<TransferView> {
    if (!this.opts.enabled) {
      throw new ParleyError(
        'FILETRANSFER_DISABLED',
        'file transfer is turned off on this node (filetransfer: false); see `parley status` for where it is set',
      )
    }
    const identity = decodeId(peerId)
    const peer = encodeId(identity)
    const source = resolve(path)
    const info = await stat(source).catch((err: NodeJS.ErrnoException) => {
      throw new ParleyError(
        'USAGE',
        `cannot read ${source}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`,
      )
    })
    if (info.isDirectory()) {
      throw new ParleyError(
        'USAGE',
        `${source} is a folder; send it with \`parley send-file\` (POST /v1/transfers/send)`,
      )
    }
    if (!info.isFile()) throw new ParleyError('USAGE', `${source} is not a regular file`)
    await access(source, fsConstants.R_OK).catch(() => {
      throw new ParleyError('USAGE', `cannot read ${source}: permission denied`)
    })
    if (info.size > FILE_BYTES_MAX) {
      throw new ParleyError(
        'FILE_TOO_LARGE',
        `${source} is over ${FILE_BYTES_MAX} bytes, the protocol's limit`,
      )
    }
    const name = folder?.name ?? basename(source)
    const problem = pathProblem(name)
    if (problem !== null) {
      throw new ParleyError(
        'BAD_FILE_NAME',
        `the recipient would refuse "${name}": ${problem}; rename it first`,
      )
    }
    if (this.activeCount() >= TRANSFERS_ACTIVE_MAX) {
      throw new ParleyError(
        'BUSY',
        `${TRANSFERS_ACTIVE_MAX} transfers are running; wait for one to finish`,
      )
    }
    const record: TransferRecord = {
      id: Buffer.from(this.opts.random.bytes(TRANSFER_ID_BYTES)).toString('hex'),
      direction: 'out',
      peer,
      name,
      size: info.size,
      chunk_bytes: chunkBytesFor(info.size),
      file_hash: '',
      hash: HASH_NAME,
      state: 'preparing',
      created_at_ms: this.opts.clock.wallNow(),
      finished_at_ms: null,
      error: null,
      source_path: source,
      source_mtime_ms: Math.floor(info.mtimeMs),
    }
    if (folder !== undefined) record.folder_id = folder.folder_id
    const entry = this.addEntry(record)
    void this.prepare(entry, identity)
    return this.view(entry)
  }

  private async prepare(e: Entry, identity: Buffer): Promise<void> {
    const r = e.record
    try {
      const { chunk_hashes, file_hash } = await hashFile(
        r.source_path!,
        r.size,
        r.chunk_bytes,
        this.chunks,
      )
      if (this.closed || TERMINAL_STATES.has(r.state)) return
      r.file_hash = file_hash.toString('hex')
      r.state = 'offered'
      await this.store.saveHashes(r.id, chunk_hashes)
      await this.store.save(r)
      e.outgoing = this.makeOutgoing(e, chunk_hashes)
    } catch (err) {
      if (this.closed) return // hashed again on the next start
      this.finish(e, 'failed', {
        code: 'TRANSFER_FAILED',
        message: `could not read the file: ${(err as Error).message}`,
      })
      return
    }
    this.changed(e, true)
    this.refreshMaintained(e)
    if (this.channels.isOpen(r.peer)) this.sendTo(r.peer, e.outgoing.offerMessage())
    else this.opts.connect(identity).catch(() => {}) // maintain() keeps trying
  }

  // ---- shared ----

  private makeIncoming(e: Entry): Incoming {
    const peer = e.record.peer
    return new Incoming(e.record, {
      clock: this.opts.clock,
      store: this.store,
      chunks: this.chunks,
      send: (m) => this.sendTo(peer, m),
      linkPath: () => this.channels.path(peer),
      changed: () => this.changed(e, false),
      ended: (code, message) =>
        this.finish(
          e,
          code === null ? 'completed' : 'failed',
          code === null ? null : refusalError('cancel', code, message ?? ''),
        ),
      count: (reason) => this.counters.inc(reason),
    })
  }

  private makeOutgoing(e: Entry, hashes: Buffer): Outgoing {
    const peer = e.record.peer
    return new Outgoing(e.record, hashes, {
      send: (m) => this.sendTo(peer, m),
      canSend: () => this.channels.isOpen(peer),
      changed: () => this.changed(e, false),
      ended: (code, message) =>
        this.finish(e, 'failed', refusalError('cancel', code ?? RefusalCode.Failed, message ?? '')),
      count: (reason) => this.counters.inc(reason),
      tamper: this.opts.tamper,
    })
  }

  private addEntry(record: TransferRecord): Entry {
    const entry: Entry = {
      record,
      incoming: null,
      outgoing: null,
      progress: new Progress(this.opts.clock, () =>
        this.emit('event', { type: 'transfer.updated', transfer: this.view(entry) }),
      ),
      finished: TERMINAL_STATES.has(record.state),
    }
    this.entries.set(record.id, entry)
    this.prune()
    return entry
  }

  private prune(): void {
    if (this.entries.size <= TRANSFERS_KEPT_MAX) return
    for (const [id, e] of this.entries) {
      if (this.entries.size <= TRANSFERS_KEPT_MAX) break
      if (!TERMINAL_STATES.has(e.record.state)) continue
      this.entries.delete(id)
      void this.store.remove(id)
    }
  }

  private setState(e: Entry, state: TransferRecord['state']): void {
    e.record.state = state
    void this.store.save(e.record).catch(() => {})
    this.changed(e, true)
  }

  private finish(e: Entry, state: TransferRecord['state'], error: TransferRecord['error']): void {
    if (e.finished) return
    e.finished = true
    e.record.state = state
    e.record.error = error
    e.record.finished_at_ms = this.opts.clock.wallNow()
    e.record.verified = undefined
    if (e.record.file_hash !== '') void this.store.save(e.record).catch(() => {})
    void this.store.removeHashes(e.record.id).catch(() => {})
    this.refreshMaintained(e)
    this.changed(e, true)
  }

  /** Progress events at most every PROGRESS_EVENT_MS per transfer; state changes at once. */
  private changed(e: Entry, now: boolean): void {
    e.progress.update(this.bytesDone(e), now)
  }

  private bytesDone(e: Entry): number {
    if (e.record.state === 'completed') return e.record.size
    return e.incoming?.bytes_done ?? e.outgoing?.bytes_done ?? 0
  }

  view(e: Entry): TransferView {
    const link = this.channels.path(e.record.peer)
    return transferView(e.record, this.bytesDone(e), e.progress, link)
  }

  list(): TransferView[] {
    return [...this.entries.values()].map((e) => this.view(e))
  }

  get(idOrPrefix: string): TransferView {
    return this.view(this.find(idOrPrefix))
  }

  /** A transfer by its id or a unique prefix of at least 4 hex digits. */
  private find(idOrPrefix: string): Entry {
    const p = idOrPrefix.trim().toLowerCase()
    if (!/^[0-9a-f]{4,32}$/.test(p)) {
      throw new ParleyError(
        'USAGE',
        `"${idOrPrefix}" is not a transfer ID (4 to 32 hex digits; see \`parley transfers\`)`,
      )
    }
    const matches = [...this.entries.values()].filter((e) => e.record.id.startsWith(p))
    if (matches.length === 1) return matches[0]!
    if (matches.length === 0) {
      throw new ParleyError(
        'TRANSFER_NOT_FOUND',
        `no transfer ${p}; \`parley transfers\` lists them`,
      )
    }
    throw new ParleyError('USAGE', `${p} matches ${matches.length} transfers; give more digits`)
  }

  private entriesOf(peer: string): Entry[] {
    return [...this.entries.values()].filter((e) => e.record.peer === peer)
  }

  private activeCount(): number {
    return [...this.entries.values()].filter((e) => isActive(e.record)).length
  }

  /** Keeps a session to the peer while this transfer is running, so it resumes after a break. */
  private refreshMaintained(e: Entry): void {
    if (this.closed) return
    const { id, peer } = e.record
    const active = isActive(e.record)
    if (active && !this.maintained.has(id)) {
      this.maintained.add(id)
      this.opts.maintain(decodeId(peer), `transfer:${id}`)
    } else if (!active && this.maintained.has(id)) {
      this.maintained.delete(id)
      this.opts.release(decodeId(peer), `transfer:${id}`)
    }
  }

  /** Daemon shutdown: progress is saved and resumes on the next start. */
  async close(): Promise<void> {
    this.closed = true
    this.channels.closed = true
    this.folders.close()
    for (const e of this.entries.values()) {
      e.progress.stop()
      await e.incoming?.suspend()
      await e.outgoing?.stop()
    }
    await this.chunks.close()
  }
}
