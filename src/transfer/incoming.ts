// The receiving side of one transfer (docs/PROTOCOL.md §8.4–§8.6): asks for
// missing chunks within a bounded window, checks each against its hash,
// writes it into the partial file, makes progress durable in checkpoints, and
// on the last chunk checks the file hash and moves the file into place.

import { constants as fsConstants } from 'node:fs'
import { type FileHandle, link, open, rm, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Clock, TimerHandle } from '../util/clock.js'
import type { ChunkIo } from './chunk-pool.js'
import {
  CHECKPOINT_BYTES,
  CHECKPOINT_MS,
  CHUNK_RETRIES_MAX,
  HASH_BYTES,
  IN_FLIGHT_BYTES_MAX,
  RELAYED_BYTES_PER_S,
  REQUEST_BATCHES_PER_WINDOW,
  REQUEST_CHUNKS_MAX,
  RefusalCode,
  STALL_MS,
} from './constants.js'
import { makeFolders } from './folders.js'
import { fileHash } from './hash.js'
import { numberedName } from './names.js'
import { Bitmap, syncDir, type TransferRecord, type TransferStore } from './store.js'
import { chunkCount, chunkLength, type TransferMessage } from './wire.js'

export interface IncomingHooks {
  clock: Clock
  store: TransferStore
  /** Hashes and writes chunks off the event loop. */
  chunks: ChunkIo
  /** Sends a frame to the peer; false when there is no open channel. */
  send(m: TransferMessage): boolean
  linkPath(): string | null
  changed(): void
  ended(code: RefusalCode | null, message: string | null): void
  count(reason: 'unrequested' | 'corrupt_chunk' | 'chunks_verified'): void
}

export class Incoming {
  readonly record: TransferRecord
  readonly count: number
  private readonly id: Buffer
  private readonly hooks: IncomingHooks
  /** Chunks written (this run or durably before). */
  private readonly have: Bitmap
  /** Chunks named in the record on disk. */
  private readonly durable: Bitmap
  private readonly hashes: Buffer
  private readonly hashed: Bitmap
  /** Requested and not yet written (a chunk being written still counts against the window). */
  private readonly inFlight = new Map<number, number>()
  private readonly writing = new Set<number>()
  /** Writes on the raw descriptor: close() must wait for them, or a reused fd could get the bytes. */
  private readonly writes = new Set<Promise<void>>()
  private readonly retries = new Map<number, number>()
  private readonly refetch: number[] = []
  private unsynced: number[] = []
  private unsyncedBytes = 0
  private cursor = 0
  private handle: FileHandle | null = null
  private checkpointing: Promise<void> | null = null
  private checkpointTimer: TimerHandle | null = null
  private stallTimer: TimerHandle | null = null
  private paceTimer: TimerHandle | null = null
  private paceStart_ms = 0
  private pacedBytes = 0
  private ending = false
  private finishing = false
  /** stop() deleted the partial file: nothing more may be recorded. */
  private removed = false
  bytes_done = 0

  constructor(record: TransferRecord, hooks: IncomingHooks) {
    this.record = record
    this.hooks = hooks
    this.id = Buffer.from(record.id, 'hex')
    this.count = chunkCount(record.size, record.chunk_bytes)
    this.have = Bitmap.from(this.count, record.verified)
    this.durable = Bitmap.from(this.count, record.verified)
    this.hashes = Buffer.alloc(this.count * HASH_BYTES)
    this.hashed = new Bitmap(this.count)
    for (let i = 0; i < this.count; i++) if (this.have.has(i)) this.bytes_done += this.lengthOf(i)
  }

  private lengthOf(i: number): number {
    return chunkLength(this.record.size, this.record.chunk_bytes, i)
  }

  /** Opens (or creates) the partial file; a missing or resized one means starting over. */
  async open(): Promise<void> {
    const part = this.record.part_path!
    const info = await stat(part).catch(() => null)
    if (info === null || info.size !== this.record.size) {
      if (this.have.count > 0) this.resetProgress()
      this.handle = await open(part, 'w+', 0o600)
      await this.handle.truncate(this.record.size)
    } else {
      this.handle = await open(part, fsConstants.O_RDWR)
    }
  }

  private resetProgress(): void {
    this.have.bits.fill(0)
    this.have.count = 0
    this.durable.bits.fill(0)
    this.durable.count = 0
    this.bytes_done = 0
  }

  /** Asks for more chunks while the window and the pace allow. */
  pump(): void {
    if (this.ending || this.finishing || this.handle === null) return
    if (this.record.state !== 'receiving') return
    if (this.have.count === this.count) {
      void this.finish()
      return
    }
    const window = Math.max(1, Math.floor(IN_FLIGHT_BYTES_MAX / this.record.chunk_bytes))
    // Ask in batches, not one REQUEST per chunk written: each frame costs both loops a packet.
    const batch = Math.max(1, Math.floor(window / REQUEST_BATCHES_PER_WINDOW))
    if (this.inFlight.size > 0 && window - this.inFlight.size < batch) return
    while (this.inFlight.size < window) {
      const run = this.nextRun(window - this.inFlight.size)
      if (run === null) break
      if (!this.paceAllows(run.count)) {
        for (let i = run.index; i < run.index + run.count; i++) this.refetch.push(i)
        break
      }
      if (!this.hooks.send({ type: 'request', id: this.id, index: run.index, count: run.count })) {
        for (let i = run.index; i < run.index + run.count; i++) this.refetch.push(i)
        return
      }
      for (let i = run.index; i < run.index + run.count; i++)
        this.inFlight.set(i, this.hooks.clock.now())
    }
    this.armStall()
  }

  /** The next contiguous run of chunks neither had nor in flight, at most `max` long. */
  private nextRun(max: number): { index: number; count: number } | null {
    const limit = Math.min(max, REQUEST_CHUNKS_MAX)
    while (this.refetch.length > 0) {
      const i = this.refetch.shift()!
      if (!this.have.has(i) && !this.inFlight.has(i)) return { index: i, count: 1 }
    }
    while (
      this.cursor < this.count &&
      (this.have.has(this.cursor) || this.inFlight.has(this.cursor))
    )
      this.cursor++
    if (this.cursor >= this.count) {
      // Past the end: anything still missing was in flight when a channel closed.
      for (let i = 0; i < this.count; i++) {
        if (!this.have.has(i) && !this.inFlight.has(i)) {
          this.cursor = i
          break
        }
      }
      if (this.cursor >= this.count) return null
    }
    const index = this.cursor
    let count = 0
    while (
      count < limit &&
      index + count < this.count &&
      !this.have.has(index + count) &&
      !this.inFlight.has(index + count)
    )
      count++
    this.cursor = index + count
    return { index, count }
  }

  /** Relayed links are paced to RELAYED_BYTES_PER_S (constants.ts says why). */
  private paceAllows(chunks: number): boolean {
    if (this.hooks.linkPath() !== 'relayed') return true
    const now = this.hooks.clock.now()
    if (this.paceStart_ms === 0 || now - this.paceStart_ms > 10_000) {
      this.paceStart_ms = now
      this.pacedBytes = 0
    }
    const allowed =
      ((now - this.paceStart_ms) / 1000) * RELAYED_BYTES_PER_S + this.record.chunk_bytes
    const bytes = chunks * this.record.chunk_bytes
    if (this.pacedBytes + bytes <= allowed) {
      this.pacedBytes += bytes
      return true
    }
    if (this.paceTimer === null) {
      const wait_ms = ((this.pacedBytes + bytes - allowed) / RELAYED_BYTES_PER_S) * 1000
      this.paceTimer = this.hooks.clock.setTimeout(
        () => {
          this.paceTimer = null
          this.pump()
        },
        Math.max(10, wait_ms),
      )
    }
    return false
  }

  private armStall(): void {
    if (this.stallTimer !== null) this.hooks.clock.clearTimeout(this.stallTimer)
    this.stallTimer = null
    if (this.inFlight.size === 0) return
    this.stallTimer = this.hooks.clock.setTimeout(() => {
      this.stallTimer = null
      this.channelLost()
      this.pump()
    }, STALL_MS)
  }

  /** The channel closed: whatever was requested on it will not come. */
  channelLost(): void {
    for (const i of this.inFlight.keys()) if (!this.writing.has(i)) this.inFlight.delete(i)
    this.cursor = 0
  }

  onData(index: number, hash: Buffer, data: Buffer): void {
    if (!this.inFlight.has(index) || this.writing.has(index) || this.ending) {
      this.hooks.count('unrequested')
      return
    }
    if (data.byteLength !== this.lengthOf(index)) {
      this.corrupt(index)
      return
    }
    this.writing.add(index)
    void this.write(index, hash, data)
  }

  /** A chunk failed its hash (or length): fetch it again, a few times at most. */
  private corrupt(index: number): void {
    this.inFlight.delete(index)
    this.hooks.count('corrupt_chunk')
    const tries = (this.retries.get(index) ?? 0) + 1
    this.retries.set(index, tries)
    if (tries > CHUNK_RETRIES_MAX) {
      void this.fail(
        RefusalCode.Corrupt,
        `chunk ${index} failed its hash ${tries} times; the file may be changing on the sender's side`,
      )
      return
    }
    this.refetch.push(index)
    this.pump()
  }

  /**
   * Checks the chunk against its hash and writes it, in a chunk worker
   * (which copies `data` before this returns, so the frame is not kept).
   */
  private async write(index: number, hash: Buffer, data: Buffer): Promise<void> {
    const length = data.byteLength
    const position = index * this.record.chunk_bytes
    let match = false
    try {
      const w = this.hooks.chunks.verifyWrite(this.handle!.fd, position, data, hash)
      const settled = w.then(
        () => {},
        () => {},
      )
      this.writes.add(settled)
      match = await w.finally(() => this.writes.delete(settled))
    } catch (err) {
      await this.fail(RefusalCode.Failed, `could not write the file: ${(err as Error).message}`)
      return
    } finally {
      this.writing.delete(index)
    }
    if (this.ending) return
    if (!match) {
      this.corrupt(index)
      return
    }
    this.inFlight.delete(index)
    this.hooks.count('chunks_verified')
    hash.copy(this.hashes, index * HASH_BYTES)
    this.hashed.set(index)
    this.have.set(index)
    this.bytes_done += length
    this.unsynced.push(index)
    this.unsyncedBytes += length
    if (this.unsyncedBytes >= CHECKPOINT_BYTES) void this.checkpoint()
    else if (this.checkpointTimer === null) {
      this.checkpointTimer = this.hooks.clock.setTimeout(() => {
        this.checkpointTimer = null
        void this.checkpoint()
      }, CHECKPOINT_MS)
    }
    this.hooks.changed()
    this.pump()
  }

  /** fdatasync the partial file, then record the chunks it now holds durably. */
  checkpoint(): Promise<void> {
    if (this.checkpointing !== null) {
      return this.checkpointing.then(() =>
        this.unsynced.length > 0 ? this.checkpoint() : undefined,
      )
    }
    if (this.unsynced.length === 0 || this.handle === null) return Promise.resolve()
    const batch = this.unsynced
    this.unsynced = []
    this.unsyncedBytes = 0
    this.checkpointing = (async () => {
      try {
        await this.handle!.datasync()
        for (const i of batch) this.durable.set(i)
        if (this.removed) return
        this.record.verified = this.durable.toBase64()
        await this.hooks.store.save(this.record)
      } catch (err) {
        if (!this.ending)
          await this.fail(RefusalCode.Failed, `could not save progress: ${(err as Error).message}`)
      } finally {
        this.checkpointing = null
      }
    })()
    return this.checkpointing
  }

  /** All chunks are in: check the file hash, then link the file into place. */
  private async finish(): Promise<void> {
    if (this.ending || this.finishing) return
    this.finishing = true
    this.clearTimers()
    try {
      await this.checkpoint()
      if (this.ending) return
      const handle = this.handle!
      await this.hashFromDisk(handle)
      const hash = fileHash(this.record.size, this.record.chunk_bytes, this.hashes)
      if (hash.toString('hex') !== this.record.file_hash) {
        await this.fail(
          RefusalCode.Corrupt,
          'the file hash does not match the offer: the file changed on the sender while it was sent; ask for it again',
        )
        return
      }
      this.ending = true
      await handle.datasync()
      await handle.close()
      this.handle = null
      this.record.state = 'moving'
      await this.hooks.store.save(this.record)
      const final = await placeFile(this.record.part_path!, this.record.dir!, this.record.name)
      this.record.final_path = final
      this.record.state = 'completed'
      this.record.verified = undefined
      this.record.finished_at_ms = this.hooks.clock.wallNow()
      await this.hooks.store.save(this.record)
      this.hooks.send({ type: 'done', id: this.id })
      this.hooks.ended(null, null)
    } catch (err) {
      this.ending = false
      await this.fail(RefusalCode.Failed, `could not finish the file: ${(err as Error).message}`)
    }
  }

  /** Hashes of chunks that were written before a restart come from the disk. */
  private async hashFromDisk(handle: FileHandle): Promise<void> {
    const { size, chunk_bytes } = this.record
    for (let i = 0; i < this.count; ) {
      if (this.hashed.has(i)) {
        i++
        continue
      }
      let n = 1
      while (i + n < this.count && !this.hashed.has(i + n)) n++
      const hashes = await this.hooks.chunks.hashChunks(handle.fd, size, chunk_bytes, i, n)
      hashes.copy(this.hashes, i * HASH_BYTES)
      for (let k = i; k < i + n; k++) this.hashed.set(k)
      i += n
    }
  }

  /** Ends with an error: tells the sender (CANCEL), removes the partial file. */
  async fail(code: RefusalCode, message: string): Promise<void> {
    if (this.ending) return
    this.hooks.send({ type: 'cancel', id: this.id, code, reason: message.slice(0, 200) })
    await this.stop()
    this.hooks.ended(code, message)
  }

  /** Stops and removes the partial file (cancel from either side, or failure). */
  async stop(): Promise<void> {
    this.ending = true
    this.removed = true
    this.clearTimers()
    await this.checkpointing?.catch(() => {})
    await Promise.allSettled([...this.writes])
    await this.handle?.close().catch(() => {})
    this.handle = null
    if (this.record.part_path) await rm(this.record.part_path, { force: true })
  }

  /** Stops without touching the disk (daemon shutdown): resumes on the next start. */
  async suspend(): Promise<void> {
    this.clearTimers()
    this.ending = true
    await Promise.allSettled([...this.writes])
    await this.checkpoint().catch(() => {})
    await this.handle?.close().catch(() => {})
    this.handle = null
  }

  private clearTimers(): void {
    for (const t of [this.checkpointTimer, this.stallTimer, this.paceTimer])
      if (t !== null) this.hooks.clock.clearTimeout(t)
    this.checkpointTimer = null
    this.stallTimer = null
    this.paceTimer = null
  }
}

/**
 * Moves the verified partial file to `dir/name` without replacing anything:
 * link(2) fails if the target exists, so the next free `name (n)` is tried.
 * If a crash already linked it, the existing link is recognised by inode.
 */
export async function placeFile(part: string, dir: string, name: string): Promise<string> {
  const partInfo = await stat(part)
  if (name.includes('/')) await makeFolders(dir, name)
  for (let n = 0; n < 1000; n++) {
    const target = join(dir, numberedName(name, n))
    try {
      await link(part, target)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST') {
        const existing = await stat(target).catch(() => null)
        if (existing?.ino === partInfo.ino && existing.dev === partInfo.dev) {
          await unlink(part)
          return target
        }
        continue
      }
      throw err
    }
    await unlink(part)
    await syncDir(dirname(target))
    return target
  }
  throw new Error(`no free file name for ${name} in ${dir}`)
}
