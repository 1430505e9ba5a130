// Worker threads that hash and write chunks (chunk-worker.ts), shared by all
// transfers of one engine. A received chunk is copied once, into a slot of
// shared memory a worker already knows; the worker hashes it and writes it
// only if the hash matches. Slot memory is bounded (CHUNK_SLOT_BYTES_MAX):
// a chunk waits for a free slot rather than growing it.

import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { type ChunkJob, type ChunkReply, SLOT_HASH_BYTES } from './chunk-worker.js'
import {
  CHUNK_BYTES_MIN,
  CHUNK_SLOT_BYTES_MAX,
  CHUNK_WORKERS_MAX,
  HASH_BYTES,
  HASH_JOB_CHUNKS_MAX,
} from './constants.js'
import { chunkHash, readFully, writeFully } from './hash.js'
import { chunkLength } from './wire.js'

/** What a transfer needs done off the event loop. */
export interface ChunkIo {
  /** Hashes `data`; writes it at `position` of `fd` only if the hash is `expected`. */
  verifyWrite(
    fd: number,
    position: number,
    data: Uint8Array,
    expected: Uint8Array,
  ): Promise<boolean>
  /** Reads chunks `first … first + count − 1` of a file from `fd`; returns their hashes, concatenated. */
  hashChunks(
    fd: number,
    size: number,
    chunk_bytes: number,
    first: number,
    count: number,
  ): Promise<Buffer>
  close(): Promise<void>
}

interface PoolWorker {
  thread: Worker
  jobs: number
}

interface Slot {
  id: number
  /** Chunk bytes the slot holds (a power of two); the slot is this plus the hash. */
  size: number
  view: Uint8Array
  workers: Set<PoolWorker>
}

interface Pending {
  worker: PoolWorker
  resolve(reply: ChunkReply): void
  reject(err: Error): void
}

type JobInput = ChunkJob extends infer J
  ? J extends { job: number }
    ? Omit<J, 'job'>
    : never
  : never

const WORKER_URL = new URL('./chunk-worker.js', import.meta.url)

export class ChunkPool implements ChunkIo {
  private readonly size: number
  private readonly workers: PoolWorker[] = []
  private readonly pending = new Map<number, Pending>()
  private readonly free = new Map<number, Slot[]>()
  private readonly waiting: { size: number; resolve(slot: Slot): void }[] = []
  private slotBytes = 0
  private nextSlot = 1
  private nextJob = 1
  private closed = false

  constructor(size = Math.max(1, Math.min(CHUNK_WORKERS_MAX, availableParallelism() - 1))) {
    this.size = size
  }

  async verifyWrite(
    fd: number,
    position: number,
    data: Uint8Array,
    expected: Uint8Array,
  ): Promise<boolean> {
    const slot = await this.takeSlot(data.byteLength)
    try {
      slot.view.set(expected.subarray(0, SLOT_HASH_BYTES), 0)
      slot.view.set(data, SLOT_HASH_BYTES)
      const job = { op: 'verify_write', slot: slot.id, fd, position, length: data.byteLength }
      const reply = await this.submit(job as JobInput, slot)
      if (!('match' in reply)) throw new Error('chunk worker: unexpected reply')
      return reply.match
    } finally {
      this.releaseSlot(slot)
    }
  }

  async hashChunks(
    fd: number,
    size: number,
    chunk_bytes: number,
    first: number,
    count: number,
  ): Promise<Buffer> {
    const out = Buffer.alloc(count * HASH_BYTES)
    const jobs: Promise<void>[] = []
    for (let at = 0; at < count; at += HASH_JOB_CHUNKS_MAX) {
      const n = Math.min(HASH_JOB_CHUNKS_MAX, count - at)
      const positions: number[] = []
      const lengths: number[] = []
      for (let i = first + at; i < first + at + n; i++) {
        positions.push(i * chunk_bytes)
        lengths.push(chunkLength(size, chunk_bytes, i))
      }
      const offset = at * HASH_BYTES
      const job = this.submit({ op: 'hash_read', fd, positions, lengths }, null)
      jobs.push(
        job.then((reply) => {
          if (!('hashes' in reply)) throw new Error('chunk worker: unexpected reply')
          out.set(reply.hashes, offset)
        }),
      )
    }
    await Promise.all(jobs)
    return out
  }

  private submit(input: JobInput, slot: Slot | null): Promise<ChunkReply> {
    if (this.closed) return Promise.reject(new Error('the transfer engine is closing'))
    const worker = this.pickWorker()
    if (slot !== null && !slot.workers.has(worker)) {
      slot.workers.add(worker)
      const memory = slot.view.buffer as SharedArrayBuffer
      worker.thread.postMessage({ op: 'slot', slot: slot.id, memory } satisfies ChunkJob)
    }
    const job = this.nextJob++
    return new Promise<ChunkReply>((resolve, reject) => {
      this.pending.set(job, { worker, resolve, reject })
      if (worker.jobs++ === 0) worker.thread.ref()
      worker.thread.postMessage({ ...input, job })
    }).then((reply) => {
      if (!reply.ok) throw new Error(reply.message)
      return reply
    })
  }

  private pickWorker(): PoolWorker {
    const idle = this.workers.find((w) => w.jobs === 0)
    if (idle !== undefined) return idle
    if (this.workers.length < this.size) return this.startWorker()
    return this.workers.reduce((a, b) => (b.jobs < a.jobs ? b : a))
  }

  private startWorker(): PoolWorker {
    // The worker allocates almost nothing (a chunk buffer, 32-byte hashes):
    // small heaps keep its share of the receiver's RSS small.
    const resourceLimits = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 }
    const w: PoolWorker = { thread: new Worker(WORKER_URL, { resourceLimits }), jobs: 0 }
    w.thread.unref()
    w.thread.on('message', (reply: ChunkReply) => {
      const p = this.pending.get(reply.job)
      if (p === undefined) return
      this.pending.delete(reply.job)
      if (--w.jobs === 0) w.thread.unref()
      p.resolve(reply)
    })
    const lost = (err: Error) => {
      // A worker that died takes its jobs with it; the next job starts a new one.
      const i = this.workers.indexOf(w)
      if (i >= 0) this.workers.splice(i, 1)
      for (const [job, p] of this.pending) {
        if (p.worker !== w) continue
        this.pending.delete(job)
        p.reject(err)
      }
    }
    w.thread.on('error', lost)
    w.thread.on('exit', (code) => lost(new Error(`chunk worker exited (${code})`)))
    this.workers.push(w)
    return w
  }

  /** A free slot for `length` bytes; waits while slot memory is at its bound. */
  private takeSlot(length: number): Promise<Slot> | Slot {
    let size = CHUNK_BYTES_MIN
    while (size < length) size *= 2
    const slot = this.free.get(size)?.pop()
    if (slot !== undefined) return slot
    this.dropFreeSlots(size)
    if (this.slotBytes + size <= CHUNK_SLOT_BYTES_MAX || this.slotBytes === 0) {
      return this.newSlot(size)
    }
    return new Promise((resolve) => this.waiting.push({ size, resolve }))
  }

  private newSlot(size: number): Slot {
    this.slotBytes += size
    const memory = new SharedArrayBuffer(SLOT_HASH_BYTES + size)
    return { id: this.nextSlot++, size, view: new Uint8Array(memory), workers: new Set() }
  }

  private releaseSlot(slot: Slot): void {
    const i = this.waiting.findIndex((w) => w.size === slot.size)
    if (i >= 0) {
      this.waiting.splice(i, 1)[0]!.resolve(slot)
      return
    }
    const list = this.free.get(slot.size) ?? []
    list.push(slot)
    this.free.set(slot.size, list)
    const next = this.waiting[0]
    if (next === undefined) return
    // A chunk of another size waits: free memory for it.
    this.dropFreeSlots(next.size)
    if (this.slotBytes + next.size <= CHUNK_SLOT_BYTES_MAX || this.slotBytes === 0) {
      this.waiting.shift()
      next.resolve(this.newSlot(next.size))
    }
  }

  /** Forgets free slots of other sizes until `size` more bytes fit under the bound. */
  private dropFreeSlots(size: number): void {
    for (const [other, list] of this.free) {
      if (other === size) continue
      while (list.length > 0 && this.slotBytes + size > CHUNK_SLOT_BYTES_MAX) {
        const slot = list.pop()!
        this.slotBytes -= slot.size
        for (const w of slot.workers) {
          w.thread.postMessage({ op: 'drop', slot: slot.id } satisfies ChunkJob)
        }
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true
    this.free.clear()
    const workers = this.workers.splice(0)
    await Promise.all(workers.map((w) => w.thread.terminate()))
  }
}

/**
 * The same work on the event loop and libuv's thread pool: no worker thread
 * (which costs ~20 MB of RSS), at the price of hashing between packets.
 */
export class InlineChunkIo implements ChunkIo {
  async verifyWrite(
    fd: number,
    position: number,
    data: Uint8Array,
    expected: Uint8Array,
  ): Promise<boolean> {
    if (!chunkHash(data).equals(expected)) return false
    await writeFully({ fd }, data, position)
    return true
  }

  async hashChunks(
    fd: number,
    size: number,
    chunk_bytes: number,
    first: number,
    count: number,
  ): Promise<Buffer> {
    const out = Buffer.alloc(count * HASH_BYTES)
    const buf = Buffer.allocUnsafe(chunk_bytes)
    for (let i = first; i < first + count; i++) {
      const length = chunkLength(size, chunk_bytes, i)
      await readFully({ fd }, buf, length, i * chunk_bytes)
      chunkHash(buf.subarray(0, length)).copy(out, (i - first) * HASH_BYTES)
    }
    return out
  }

  async close(): Promise<void> {}
}
