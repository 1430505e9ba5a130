// The body of a chunk worker thread (started by chunk-pool.ts): the CPU- and
// disk-bound work of a transfer — the hash of every chunk, and the write of a
// received chunk — kept off the event loop that also carries the session's
// packets (hashing a 256 KiB chunk takes ~0.3 ms; no packet is read or
// acknowledged meanwhile).

import { readSync, writeSync } from 'node:fs'
import { parentPort } from 'node:worker_threads'
import { chunkHash } from './hash.js'

/**
 * A slot is a SharedArrayBuffer the pool fills and a worker reads: the
 * expected hash in its first SLOT_HASH_BYTES, the chunk after. Slots are
 * shared once and then named by number, so a job moves no memory: moving
 * (transferring) ArrayBuffers instead made V8 account external memory on
 * every chunk and cost ~1 ms per message in a busy process.
 */
export const SLOT_HASH_BYTES = 32

export type ChunkJob =
  | { op: 'slot'; slot: number; memory: SharedArrayBuffer }
  | { op: 'drop'; slot: number }
  | { op: 'verify_write'; job: number; slot: number; fd: number; position: number; length: number }
  | {
      op: 'hash_read'
      job: number
      fd: number
      /** Byte offset of each chunk and its length, in order. */
      positions: number[]
      lengths: number[]
    }

export type ChunkReply =
  | { job: number; ok: true; match: boolean }
  | { job: number; ok: true; hashes: Uint8Array }
  | { job: number; ok: false; message: string }

const slots = new Map<number, Uint8Array>()
let readBuffer = new Uint8Array(0)

function verifyWrite(m: Extract<ChunkJob, { op: 'verify_write' }>): ChunkReply {
  const memory = slots.get(m.slot)
  if (memory === undefined) throw new Error(`chunk worker: no slot ${m.slot}`)
  // The pool leaves the slot alone until this job is answered, so the chunk
  // is hashed and written straight from shared memory.
  const chunk = memory.subarray(SLOT_HASH_BYTES, SLOT_HASH_BYTES + m.length)
  const match = chunkHash(chunk).equals(memory.subarray(0, SLOT_HASH_BYTES))
  if (match) {
    let done = 0
    while (done < m.length) done += writeSync(m.fd, chunk, done, m.length - done, m.position + done)
  }
  return { job: m.job, ok: true, match }
}

function hashRead(m: Extract<ChunkJob, { op: 'hash_read' }>): ChunkReply {
  const hashes = new Uint8Array(m.lengths.length * SLOT_HASH_BYTES)
  for (let i = 0; i < m.lengths.length; i++) {
    const length = m.lengths[i]!
    const position = m.positions[i]!
    if (readBuffer.byteLength < length) readBuffer = new Uint8Array(length)
    let done = 0
    while (done < length) {
      const n = readSync(m.fd, readBuffer, done, length - done, position + done)
      if (n === 0) throw new Error(`the file is shorter than expected (at byte ${position + done})`)
      done += n
    }
    hashes.set(chunkHash(readBuffer.subarray(0, length)), i * SLOT_HASH_BYTES)
  }
  return { job: m.job, ok: true, hashes }
}

parentPort?.on('message', (m: ChunkJob) => {
  if (m.op === 'slot') {
    slots.set(m.slot, new Uint8Array(m.memory))
    return
  }
  if (m.op === 'drop') {
    slots.delete(m.slot)
    return
  }
  let reply: ChunkReply
  try {
    reply = m.op === 'verify_write' ? verifyWrite(m) : hashRead(m)
  } catch (err) {
    reply = { job: m.job, ok: false, message: (err as Error).message }
  }
  parentPort!.postMessage(reply)
})
