import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { ChunkPool, InlineChunkIo } from '../../../src/transfer/chunk-pool.js'
import { chunkHash } from '../../../src/transfer/hash.js'
import { tempDir } from '../../helpers/cli.js'

// Both ways of hashing and writing chunks agree: a chunk is written only when
// its hash matches, and the hashes read back from disk are the same.
for (const [name, make] of [
  ['worker pool', () => new ChunkPool(1)],
  ['event loop', () => new InlineChunkIo()],
] as const) {
  test(`chunk I/O (${name}): verify-then-write, and hashes read back`, async () => {
    const dir = await tempDir('chunk-io')
    const io = make()
    const file = await open(join(dir.path, 'part'), 'w+')
    try {
      const chunk = 16 * 1024
      const a = randomBytes(chunk)
      const b = randomBytes(chunk - 5)
      assert.equal(await io.verifyWrite(file.fd, 0, a, chunkHash(a)), true)
      assert.equal(await io.verifyWrite(file.fd, chunk, b, chunkHash(a)), false, 'wrong hash')
      assert.equal((await readFile(join(dir.path, 'part'))).byteLength, chunk, 'nothing written')
      assert.equal(await io.verifyWrite(file.fd, chunk, b, chunkHash(b)), true)
      const hashes = await io.hashChunks(file.fd, 2 * chunk - 5, chunk, 0, 2)
      assert.deepEqual(hashes, Buffer.concat([chunkHash(a), chunkHash(b)]))
    } finally {
      await file.close()
      await io.close()
      await dir.cleanup()
    }
  })
}
