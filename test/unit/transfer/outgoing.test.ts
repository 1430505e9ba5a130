// The sender's reads (src/transfer/outgoing.ts): chunks that follow each
// other are read in runs into reused buffers, so every DATA must still carry
// exactly its own chunk, whatever the order of requests, the drain signals
// and the file's last, short chunk.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { CHUNK_BYTES_MIN, HASH_BYTES, READ_RUN_BYTES } from '../../../src/transfer/constants.js'
import { chunkHash } from '../../../src/transfer/hash.js'
import { Outgoing } from '../../../src/transfer/outgoing.js'
import type { TransferRecord } from '../../../src/transfer/store.js'
import type { TransferMessage } from '../../../src/transfer/wire.js'
import { tempDir } from '../../helpers/cli.js'

const CHUNK = CHUNK_BYTES_MIN
/** Three runs and a bit, ending in a short chunk. */
const SIZE = 3 * READ_RUN_BYTES + 5 * CHUNK + 1234

async function sender(file: Buffer, path: string, drainEvery: number) {
  const count = Math.ceil(file.byteLength / CHUNK)
  const hashes = Buffer.alloc(count * HASH_BYTES)
  for (let i = 0; i < count; i++)
    chunkHash(file.subarray(i * CHUNK, (i + 1) * CHUNK)).copy(hashes, i * HASH_BYTES)
  const record: TransferRecord = {
    id: '00'.repeat(16),
    direction: 'out',
    peer: 'peer',
    name: 'f.bin',
    size: file.byteLength,
    chunk_bytes: CHUNK,
    file_hash: '',
    state: 'offered',
    created_at_ms: 0,
    finished_at_ms: null,
    error: null,
    source_path: path,
    source_mtime_ms: Math.floor((await stat(path)).mtimeMs),
  }
  // What protomux does: the frame is a copy, taken inside send().
  const sent: { index: number; data: Buffer; hash: Buffer }[] = []
  let sends = 0
  const out: Outgoing = new Outgoing(record, hashes, {
    send(m: TransferMessage) {
      if (m.type !== 'data') return true
      sent.push({ index: m.index, data: Buffer.from(m.data), hash: Buffer.from(m.hash) })
      // Report back-pressure now and then, and drain a little later.
      if (++sends % drainEvery !== 0) return true
      setImmediate(() => out.onDrain())
      return false
    },
    canSend: () => true,
    changed() {},
    ended(code, message) {
      throw new Error(`the transfer ended: ${code} ${message}`)
    },
    count() {},
  })
  return { out, sent, count }
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((r) => setTimeout(r, 5))
  assert.ok(done(), 'timed out waiting for the chunks')
}

function assertChunks(file: Buffer, sent: { index: number; data: Buffer; hash: Buffer }[]) {
  for (const { index, data, hash } of sent) {
    const want = file.subarray(index * CHUNK, (index + 1) * CHUNK)
    assert.ok(data.equals(want), `chunk ${index} carries other bytes`)
    assert.ok(hash.equals(chunkHash(want)), `chunk ${index} carries another chunk's hash`)
  }
}

/** Runs `body` with a file of SIZE random bytes on disk. */
async function withFile(body: (file: Buffer, path: string) => Promise<void>): Promise<void> {
  const dir = await tempDir('outgoing')
  try {
    const file = randomBytes(SIZE)
    const path = join(dir.path, 'f.bin')
    await writeFile(path, file)
    await body(file, path)
  } finally {
    await dir.cleanup()
  }
}

test('chunks read in runs each carry their own bytes, in request order', () =>
  withFile(async (file, path) => {
    for (const drainEvery of [1, 3, 1000]) {
      const { out, sent, count } = await sender(file, path, drainEvery)
      // In order, out of order, a gap, repeats, and the short last chunk alone.
      const requests: [number, number][] = [
        [0, 70],
        [count - 1, 1],
        [100, 40],
        [3, 2],
        [70, 30],
        [140, count - 141],
        [64, 1],
      ]
      for (const [index, n] of requests) out.onRequest(index, n)
      const want = requests.flatMap(([index, n]) => Array.from({ length: n }, (_, k) => index + k))
      await until(() => sent.length === want.length)
      await out.stop()
      assert.deepEqual(
        sent.map((s) => s.index),
        want,
      )
      assertChunks(file, sent)
    }
  }))

test('a channel lost mid-run drops the chunks read ahead; asked again, they are read again', () =>
  withFile(async (file, path) => {
    const { out, sent, count } = await sender(file, path, 2)
    out.onRequest(0, count)
    await until(() => sent.length >= 10)
    out.channelLost()
    const before = sent.length
    out.onRequest(5, count - 5)
    await until(() => sent.length === before + count - 5)
    await out.stop()
    assert.deepEqual(
      sent.slice(before).map((s) => s.index),
      Array.from({ length: count - 5 }, (_, k) => 5 + k),
    )
    assertChunks(file, sent)
  }))
