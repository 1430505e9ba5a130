// The sending side of one transfer (docs/PROTOCOL.md §8.4): answers REQUESTs
// with DATA from the file, in order, never more than the receiver asked for
// and never faster than the stream drains. Chunk hashes come from the pass
// that computed the file hash before the offer, so data is not hashed twice.

import { type FileHandle, open, stat } from 'node:fs/promises'
import {
  HASH_BYTES,
  READ_RUN_BYTES,
  RefusalCode,
  SEND_QUEUE_CHUNKS_MAX,
  WRITE_AHEAD_CHUNKS,
} from './constants.js'
import { readFully } from './hash.js'
import { Bitmap, type TransferRecord } from './store.js'
import { chunkCount, chunkLength, type TransferMessage } from './wire.js'

export interface OutgoingHooks {
  /** Sends a frame; false when the channel is gone or must drain first. */
  send(m: TransferMessage): boolean
  /** Whether the channel to the peer is open now. */
  canSend(): boolean
  changed(): void
  ended(code: RefusalCode | null, message: string | null): void
  count(reason: 'request_overflow' | 'request_out_of_range' | 'chunks_sent'): void
  /** Test double on the path (PARLEY_TEST_CORRUPT_CHUNKS): may alter a chunk after hashing. */
  tamper?(index: number, data: Buffer): void
}

export class Outgoing {
  readonly record: TransferRecord
  readonly count: number
  private readonly id: Buffer
  private readonly hooks: OutgoingHooks
  private readonly hashes: Buffer
  private readonly sent: Bitmap
  private readonly queue: number[] = []
  /** Chunks read in one call (READ_RUN_BYTES). */
  private readonly runChunks: number
  private handle: Promise<FileHandle> | null = null
  /** Reads started ahead of sending, so a drained stream never waits for the disk. */
  private readonly ahead = new Map<number, Promise<Buffer>>()
  /** Counts channelLost() calls: a chunk read across one is not sent. */
  private channelsLost = 0
  /** Chunks written since the stream last reported itself drained. */
  private overDrain = 0
  private pumping = false
  private ended = false
  bytes_done = 0

  constructor(record: TransferRecord, hashes: Buffer, hooks: OutgoingHooks) {
    this.record = record
    this.hooks = hooks
    this.id = Buffer.from(record.id, 'hex')
    this.hashes = hashes
    this.count = chunkCount(record.size, record.chunk_bytes)
    this.sent = new Bitmap(this.count)
    this.runChunks = Math.max(1, Math.floor(READ_RUN_BYTES / record.chunk_bytes))
  }

  offerMessage(): TransferMessage {
    const r = this.record
    return {
      type: 'offer',
      id: this.id,
      size: r.size,
      chunk_bytes: r.chunk_bytes,
      file_hash: Buffer.from(r.file_hash, 'hex'),
      name: r.name,
    }
  }

  onRequest(index: number, count: number): void {
    if (this.ended) return
    if (index + count > this.count) {
      this.hooks.count('request_out_of_range')
      return
    }
    if (this.queue.length + count > SEND_QUEUE_CHUNKS_MAX) {
      this.hooks.count('request_overflow')
      return
    }
    if (this.record.state === 'offered') {
      this.record.state = 'sending'
      this.hooks.changed()
    }
    for (let i = index; i < index + count; i++) this.queue.push(i)
    void this.pump()
  }

  /** The channel closed: requests on it are void; the receiver asks again. */
  channelLost(): void {
    this.channelsLost++
    this.queue.length = 0
    this.ahead.clear()
    this.overDrain = 0
  }

  /** The stream drained: send more. */
  onDrain(): void {
    this.overDrain = 0
    void this.pump()
  }

  /**
   * Keeps reads going ahead of the stream: while fewer than a run's worth of
   * chunks are read or being read, reads the next queued chunks that follow
   * each other (a run, READ_RUN_BYTES at most) in one call.
   */
  private prefetch(): void {
    const q = this.queue
    let k = 0
    while (k < q.length && this.ahead.has(q[k]!)) k++
    if (k >= this.runChunks || k >= q.length) return
    const first = q[k]!
    let n = 1
    while (n < this.runChunks && q[k + n] === first + n && !this.ahead.has(first + n)) n++
    const run = this.read(first, n)
    run.catch(() => {}) // awaited (and reported) when each chunk's turn comes
    const cb = this.record.chunk_bytes
    for (let j = 0; j < n; j++) {
      const length = chunkLength(this.record.size, cb, first + j)
      const p = run.then((b) => b.subarray(j * cb, j * cb + length))
      p.catch(() => {})
      this.ahead.set(first + j, p)
    }
  }

  /**
   * Sends queued chunks until the queue is empty or the stream has
   * WRITE_AHEAD_CHUNKS more than it wants (streamx asks to drain after 16 KiB,
   * far less than a chunk; stopping there would let the link idle while the
   * next chunk is read).
   */
  async pump(): Promise<void> {
    if (this.pumping || this.ended) return
    this.pumping = true
    try {
      while (this.queue.length > 0 && !this.ended && this.hooks.canSend()) {
        if (this.overDrain >= WRITE_AHEAD_CHUNKS) return // onDrain() resumes
        this.prefetch()
        const index = this.queue.shift()!
        const pending = this.ahead.get(index)! // prefetch() always covers the head of the queue
        this.ahead.delete(index)
        const lost = this.channelsLost
        const data = await pending
        if (this.ended) return
        if (lost !== this.channelsLost) continue // requested on a channel that closed meanwhile
        const hash = this.hashes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES)
        this.hooks.tamper?.(index, data)
        const drained = this.hooks.send({ type: 'data', id: this.id, index, hash, data })
        this.hooks.count('chunks_sent')
        if (!this.sent.has(index)) {
          this.sent.set(index)
          this.bytes_done += data.byteLength
          this.hooks.changed()
        }
        this.overDrain = drained ? 0 : this.overDrain + 1
        this.sentFrom(data)
      }
    } catch (err) {
      await this.fail(RefusalCode.Unknown, `could not read the file: ${(err as Error).message}`)
    } finally {
      this.pumping = false
    }
  }

  /** Opens the file once, refusing it if it changed since it was hashed. */
  private async openSource(): Promise<FileHandle> {
    const info = await stat(this.record.source_path!)
    if (
      info.size !== this.record.size ||
      Math.floor(info.mtimeMs) !== this.record.source_mtime_ms
    ) {
      throw new Error('it changed since it was offered; send it again')
    }
    return open(this.record.source_path!, 'r')
  }

  /** Run-sized buffers free for the next read (a few exist: reads ahead, and the one being sent). */
  private readonly spare: Buffer[] = []
  /** Chunks of each run buffer not yet sent; at 0 the buffer is spare again. */
  private readonly unsent = new WeakMap<ArrayBuffer, number>()

  /** protomux copied the chunk into its frame inside send(): its buffer may be read into again. */
  private sentFrom(data: Buffer): void {
    const run = data.buffer as ArrayBuffer
    const left = this.unsent.get(run)! - 1
    if (left > 0) {
      this.unsent.set(run, left)
      return
    }
    this.unsent.delete(run)
    // Two spare: one being read into while the other waits its turn to be sent.
    if (this.spare.length < 2) this.spare.push(Buffer.from(run))
  }

  /** Reads on the raw descriptor: stop() waits for them before it closes it. */
  private readonly reads = new Set<Promise<Buffer>>()

  private read(index: number, count: number): Promise<Buffer> {
    const r = this.readRun(index, count)
    this.reads.add(r)
    r.then(
      () => this.reads.delete(r),
      () => this.reads.delete(r),
    )
    return r
  }

  /** Reads chunks `index … index + count − 1` into one buffer, in one call. */
  private async readRun(index: number, count: number): Promise<Buffer> {
    this.handle ??= this.openSource()
    const handle = await this.handle
    const cb = this.record.chunk_bytes
    const length = Math.min(count * cb, this.record.size - index * cb)
    const buffer = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.runChunks * cb)
    this.unsent.set(buffer.buffer as ArrayBuffer, count)
    await readFully(handle, buffer, length, index * cb)
    return buffer.subarray(0, length)
  }

  async fail(code: RefusalCode, message: string): Promise<void> {
    if (this.ended) return
    this.hooks.send({ type: 'cancel', id: this.id, code, reason: message.slice(0, 200) })
    await this.stop()
    this.hooks.ended(code, message)
  }

  async stop(): Promise<void> {
    this.ended = true
    this.queue.length = 0
    this.ahead.clear()
    const handle = this.handle
    this.handle = null
    await Promise.allSettled([...this.reads])
    await handle?.then((h) => h.close()).catch(() => {})
  }
}
