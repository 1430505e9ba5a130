import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join as pathJoin } from 'node:path'
import { after, describe, test } from 'node:test'
import { tempDir } from '../../helpers/cli.js'
import { join, makeNode, randomFile, waitFor } from './helpers.js'

// Two real engines over real protomux on an in-memory link: the whole
// protocol, disk included, without a network.
describe('transfer engine, in memory', () => {
  const dirs: { cleanup(): Promise<void> }[] = []
  const temp = async (p: string) => {
    const d = await tempDir(p)
    dirs.push(d)
    return d.path
  }
  after(async () => {
    for (const d of dirs) await d.cleanup()
  })

  test('offer, accept, chunks, file hash, atomic move', async () => {
    const root = await temp('xfer-basic')
    const alice = await makeNode(pathJoin(root, 'alice'))
    const bob = await makeNode(pathJoin(root, 'bob'))
    join(alice, bob)
    const data = await randomFile(pathJoin(root, 'photo.jpg'), 3 * 256 * 1024 + 1234)
    const sent = await alice.engine.send(bob.id, pathJoin(root, 'photo.jpg'))
    const offer = await waitFor(bob.engine, (t) => t.state === 'offered')
    assert.equal(offer.id, sent.id)
    const inbox = pathJoin(root, 'inbox')
    await mkdir(inbox)
    await bob.engine.accept(offer.id.slice(0, 6), inbox)
    const done = await waitFor(bob.engine, (t) => t.state === 'completed')
    assert.equal(done.path, pathJoin(inbox, 'photo.jpg'))
    assert.deepEqual(await readFile(done.path!), data)
    assert.deepEqual(await readdir(inbox), ['photo.jpg'], 'no partial file left behind')
    const out = await waitFor(alice.engine, (t) => t.state === 'completed')
    assert.equal(out.error, null)
    assert.equal(alice.engine.get(sent.id).file_hash, bob.engine.get(sent.id).file_hash)
  })

  test('two transfers to one peer each keep the session: ending one leaves the other its keep-alive', async () => {
    const root = await temp('xfer-owners')
    const owners = new Map<string, Set<string>>()
    const track = {
      maintain: (identity: Buffer, owner: string) => {
        const key = identity.toString('hex')
        owners.set(key, (owners.get(key) ?? new Set()).add(owner))
      },
      release: (identity: Buffer, owner: string) => {
        owners.get(identity.toString('hex'))?.delete(owner)
      },
    }
    const alice = await makeNode(pathJoin(root, 'alice'), track)
    const bob = await makeNode(pathJoin(root, 'bob'))
    join(alice, bob)
    await randomFile(pathJoin(root, 'a.bin'), 1000)
    await randomFile(pathJoin(root, 'b.bin'), 1000)
    const a = await alice.engine.send(bob.id, pathJoin(root, 'a.bin'))
    const b = await alice.engine.send(bob.id, pathJoin(root, 'b.bin'))
    await waitFor(bob.engine, (t) => t.id === a.id && t.state === 'offered')
    await waitFor(bob.engine, (t) => t.id === b.id && t.state === 'offered')
    const peer = () => [...(owners.get(bob.identity.toString('hex')) ?? [])].sort()
    assert.deepEqual(peer(), [`transfer:${a.id}`, `transfer:${b.id}`].sort())
    await bob.engine.decline(a.id)
    await waitFor(alice.engine, (t) => t.id === a.id && t.state === 'declined')
    assert.deepEqual(peer(), [`transfer:${b.id}`], 'b still keeps the session')
    await alice.engine.cancel(b.id)
    assert.deepEqual(peer(), [])
  })

  test('a chunk corrupted on the path is detected and fetched again', async () => {
    const root = await temp('xfer-corrupt')
    let corrupted = 0
    const alice = await makeNode(pathJoin(root, 'alice'), {
      tamper: (index, data) => {
        // The test double: flip a byte of chunks 1 and 2 the first time they are sent.
        if ((index === 1 || index === 2) && corrupted < 2) {
          data[7] = data[7]! ^ 0xff
          corrupted++
        }
      },
    })
    const bob = await makeNode(pathJoin(root, 'bob'))
    join(alice, bob)
    const data = await randomFile(pathJoin(root, 'f.bin'), 5 * 256 * 1024)
    await alice.engine.send(bob.id, pathJoin(root, 'f.bin'))
    const offer = await waitFor(bob.engine, (t) => t.state === 'offered')
    await bob.engine.accept(offer.id, await temp('xfer-corrupt-in'))
    const done = await waitFor(bob.engine, (t) => t.state === 'completed')
    assert.deepEqual(await readFile(done.path!), data)
    assert.equal(corrupted, 2)
    assert.equal(bob.engine.counters.get('corrupt_chunk'), 2)
  })

  test('filetransfer off: the receiver declines with a code and the sender is told why', async () => {
    const root = await temp('xfer-off')
    const alice = await makeNode(pathJoin(root, 'alice'))
    const bob = await makeNode(pathJoin(root, 'bob'), { enabled: false })
    join(alice, bob)
    await randomFile(pathJoin(root, 'a.txt'), 100)
    await alice.engine.send(bob.id, pathJoin(root, 'a.txt'))
    const t = await waitFor(alice.engine, (x) => x.state === 'declined')
    assert.equal(t.error?.code, 'FILETRANSFER_DISABLED')
    assert.match(t.error!.message, /file transfer is turned off/)
    await assert.rejects(bob.engine.send(alice.id, pathJoin(root, 'a.txt')), {
      code: 'FILETRANSFER_DISABLED',
    })
  })

  test('decline and cancel reach the other side', async () => {
    const root = await temp('xfer-decline')
    const alice = await makeNode(pathJoin(root, 'alice'))
    const bob = await makeNode(pathJoin(root, 'bob'))
    join(alice, bob)
    await randomFile(pathJoin(root, 'a.txt'), 100)
    await alice.engine.send(bob.id, pathJoin(root, 'a.txt'))
    const offer = await waitFor(bob.engine, (t) => t.state === 'offered')
    await bob.engine.decline(offer.id)
    const declined = await waitFor(alice.engine, (t) => t.state === 'declined')
    assert.equal(declined.error?.code, 'TRANSFER_DECLINED')

    await alice.engine.send(bob.id, pathJoin(root, 'a.txt'))
    const second = await waitFor(bob.engine, (t) => t.state === 'offered')
    await alice.engine.cancel(second.id)
    const cancelled = await waitFor(
      bob.engine,
      (t) => t.id === second.id && t.state === 'cancelled',
    )
    assert.equal(cancelled.error?.code, 'TRANSFER_CANCELLED')
  })

  test('auto-accept from a chosen peer into the download folder', async () => {
    const root = await temp('xfer-auto')
    const alice = await makeNode(pathJoin(root, 'alice'))
    const bob = await makeNode(pathJoin(root, 'bob'), { auto_accept_from: [alice.id] })
    join(alice, bob)
    const data = await randomFile(pathJoin(root, 'notes.txt'), 4321)
    await alice.engine.send(bob.id, pathJoin(root, 'notes.txt'))
    const done = await waitFor(bob.engine, (t) => t.state === 'completed')
    assert.equal(done.path, pathJoin(root, 'bob', 'downloads', 'notes.txt'))
    assert.deepEqual(await readFile(done.path!), data)
  })

  test('a transfer an older build left unfinished (BLAKE2b hashes) is failed at start, not resumed', async () => {
    const root = await temp('xfer-v1')
    const alice = await makeNode(pathJoin(root, 'alice'))
    const bobHome = pathJoin(root, 'bob')
    let bob = await makeNode(bobHome)
    const bobIdentity = { id: bob.id, publicKey: bob.identity }
    await randomFile(pathJoin(root, 'f.bin'), 1024)
    join(alice, bob, (frame) => (frame.byteLength < 1024 ? frame : null)) // no DATA gets through
    await alice.engine.send(bob.id, pathJoin(root, 'f.bin'))
    const offer = await waitFor(bob.engine, (t) => t.state === 'offered')
    await bob.engine.accept(offer.id, await temp('xfer-v1-in'))
    await bob.engine.close()
    // What a protocol-1 build wrote: the same record without the hash name.
    const recordPath = pathJoin(bobHome, 'transfers', `${offer.id}.json`)
    const record = JSON.parse(await readFile(recordPath, 'utf8'))
    assert.equal(record.hash, 'sha256')
    delete record.hash
    await writeFile(recordPath, JSON.stringify(record))
    bob = await makeNode(bobHome, {}, bobIdentity)
    const t = bob.engine.get(offer.id)
    assert.equal(t.state, 'failed')
    assert.match(JSON.stringify(t.error), /older Parley.*send the file again/)
  })

  test('a receiver restarted mid-transfer resumes without chunks being sent twice', async () => {
    const root = await temp('xfer-resume')
    const alice = await makeNode(pathJoin(root, 'alice'))
    const bobHome = pathJoin(root, 'bob')
    let bob = await makeNode(bobHome)
    const bobIdentity = { id: bob.id, publicKey: bob.identity }
    const chunks = 64
    const data = await randomFile(pathJoin(root, 'big.bin'), chunks * 256 * 1024)
    let dataFrames = 0
    let stopAfter = 24
    // Count DATA frames on the path (the only large ones); after `stopAfter`, the link goes dead.
    const onAtoB = (frame: Buffer) => {
      if (frame.byteLength < 1024) return frame
      dataFrames++
      return dataFrames > stopAfter ? null : frame
    }
    const cut = join(alice, bob, onAtoB)
    await alice.engine.send(bob.id, pathJoin(root, 'big.bin'))
    const offer = await waitFor(bob.engine, (t) => t.state === 'offered')
    const inbox = await temp('xfer-resume-in')
    await bob.engine.accept(offer.id, inbox)
    await waitFor(
      bob.engine,
      (t) => t.state === 'receiving' && bob.engine.get(t.id).bytes_done >= stopAfter * 256 * 1024,
    )
    cut()
    await bob.engine.close()
    const before = bob.engine.get(offer.id).bytes_done
    stopAfter = Number.POSITIVE_INFINITY
    dataFrames = 0
    bob = await makeNode(bobHome, {}, bobIdentity)
    const resumed = bob.engine.get(offer.id)
    assert.equal(resumed.state, 'receiving')
    assert.ok(
      resumed.bytes_done > 0 && resumed.bytes_done <= before,
      'progress survived the restart',
    )
    join(alice, bob, onAtoB)
    const done = await waitFor(bob.engine, (t) => t.state === 'completed')
    assert.deepEqual(await readFile(done.path!), data)
    const resent = dataFrames
    assert.ok(
      resent <= chunks - resumed.bytes_done / (256 * 1024),
      `after the restart ${resent} chunks were sent; ${resumed.bytes_done / (256 * 1024)} were already verified`,
    )
  })
})
