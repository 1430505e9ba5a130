// Folders (docs/PROTOCOL.md §8.5): the relative-path name rules, the safe
// creation of a received path's folders, the bounded walk of a source
// folder, and a folder between two real engines (real protomux, in memory),
// including a hostile OFFER sent raw by a peer.

import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises'
import { join as pathJoin } from 'node:path'
import { after, describe, test } from 'node:test'
import Protomux from 'protomux'
import { TransferChannels } from '../../../src/transfer/channels.js'
import { FolderSender, makeFolders, walkFolder } from '../../../src/transfer/folders.js'
import {
  CONTROL_FRAME_BYTES_MAX,
  decodeTransfer,
  encodeTransfer,
  FOLDER_BUSY_RETRY_MS,
  PATH_BYTES_MAX,
  PATH_COMPONENTS_MAX,
  pathProblem,
  RefusalCode,
  type TransferMessage,
} from '../../../src/transfer/index.js'
import { numberedName } from '../../../src/transfer/names.js'
import type { TransferView } from '../../../src/transfer/progress.js'
import { seededRandom } from '../../../src/util/random.js'
import { tempDir } from '../../helpers/cli.js'
import { SimClock } from '../../sim/sim.js'
import {
  join as joinNodes,
  makeNode,
  newIdentity,
  randomFile,
  streamPair,
  waitFor,
} from './helpers.js'

const dirs: { cleanup(): Promise<void> }[] = []
const temp = async (p: string) => {
  const d = await tempDir(p)
  dirs.push(d)
  return d.path
}
after(async () => {
  for (const d of dirs) await d.cleanup()
})

describe('relative-path names (§8.5)', () => {
  const deep = (n: number) => `${Array.from({ length: n - 1 }, (_, i) => `d${i}`).join('/')}/f.txt`
  const hostile = [
    '../x',
    'top/../x',
    '/etc/passwd',
    'top/',
    'a//b',
    'a/./b',
    'a\\b',
    'a/sub\\..\\x',
    'a/con.txt',
    'a/LPT1/x',
    'C:/x',
    'a/b:stream',
    'a/ b',
    'a/b./c',
    'a/\u202egpj.exe',
    'a/new\nline',
    `a/${'x'.repeat(256)}`,
    `a/${'x'.repeat(255)}/${'y'.repeat(255)}/${'z'.repeat(255)}`,
    deep(PATH_COMPONENTS_MAX + 1),
  ]
  for (const name of hostile) {
    test(`refuses ${JSON.stringify(name).slice(0, 40)}`, () => {
      assert.notEqual(pathProblem(name), null)
    })
  }
  const fine = [
    'hello.txt',
    'photos/2026/beach.jpg',
    'a/.bashrc',
    'Résumé/日本語.txt',
    deep(PATH_COMPONENTS_MAX),
    `a/${'x'.repeat(255)}/${'y'.repeat(255)}/${'z'.repeat(250)}`,
  ]
  for (const name of fine) {
    test(`accepts ${JSON.stringify(name).slice(0, 40)}`, () => {
      assert.ok(Buffer.byteLength(name) <= PATH_BYTES_MAX)
      assert.equal(pathProblem(name), null)
    })
  }
  test('an OFFER with the longest path fits a control frame; a longer one is refused', () => {
    const offer = (name: string): TransferMessage => ({
      type: 'offer',
      id: Buffer.alloc(16),
      size: 1,
      chunk_bytes: 16384,
      file_hash: Buffer.alloc(32),
      name,
    })
    const longest = `a/${'x'.repeat(PATH_BYTES_MAX - 2)}`
    const frame = encodeTransfer(offer(longest))
    assert.ok(frame.byteLength <= CONTROL_FRAME_BYTES_MAX)
    assert.equal((decodeTransfer(frame) as { name: string }).name, longest)
    assert.throws(() => encodeTransfer(offer(`${longest}y`)))
  })
  test('only the file of a path is numbered', () => {
    assert.equal(numberedName('top.d/sub/a.txt', 1), 'top.d/sub/a (1).txt')
    assert.equal(numberedName('top.d/noext', 2), 'top.d/noext (2)')
  })
})

describe('making the folders of a received path', () => {
  test('creates real folders, mode 0700, and reuses existing ones', async () => {
    const dest = await temp('folders-make')
    await makeFolders(dest, 'top/sub/deeper/file.txt')
    const info = await stat(pathJoin(dest, 'top/sub/deeper'))
    assert.ok(info.isDirectory())
    assert.equal(info.mode & 0o777, 0o700)
    await makeFolders(dest, 'top/sub/other.txt')
  })
  test('a symbolic link planted in the destination is refused, not followed', async () => {
    const dest = await temp('folders-link')
    const elsewhere = await temp('folders-elsewhere')
    await symlink(elsewhere, pathJoin(dest, 'top'))
    await assert.rejects(makeFolders(dest, 'top/evil.txt'), /not a folder/)
    await mkdir(pathJoin(dest, 'ok'))
    await symlink(elsewhere, pathJoin(dest, 'ok', 'sub'))
    await assert.rejects(makeFolders(dest, 'ok/sub/evil.txt'), /not a folder/)
    assert.deepEqual(await readdir(elsewhere), [], 'nothing was created through the link')
  })
  test('a file where a folder should be, and hostile paths, are refused', async () => {
    const dest = await temp('folders-file')
    await writeFile(pathJoin(dest, 'top'), 'x')
    await assert.rejects(makeFolders(dest, 'top/a.txt'), /not a folder/)
    await assert.rejects(makeFolders(dest, '../escape/a.txt'), /refusing/)
    await assert.rejects(makeFolders(dest, 'a//b'), /refusing/)
  })
})

describe('walking a folder to send', () => {
  test('regular files in name order; links, pipes, refused names and too deep skipped and listed', async () => {
    const root = pathJoin(await temp('folders-walk'), 'album')
    await mkdir(pathJoin(root, 'sub/deeper'), { recursive: true })
    await mkdir(pathJoin(root, 'empty'))
    await writeFile(pathJoin(root, 'b.txt'), 'bb')
    await writeFile(pathJoin(root, 'a.txt'), 'a')
    await writeFile(pathJoin(root, 'sub/deeper/c.txt'), 'ccc')
    await writeFile(pathJoin(root, 'con.txt'), 'device name')
    await symlink(pathJoin(root, 'a.txt'), pathJoin(root, 'link.txt'))
    execFileSync('mkfifo', [pathJoin(root, 'pipe')])
    let deep = root
    for (let i = 0; i < PATH_COMPONENTS_MAX; i++) deep = pathJoin(deep, 'd')
    await mkdir(deep, { recursive: true })
    const plan = await walkFolder(root)
    assert.equal(plan.top, 'album')
    assert.deepEqual(plan.files, ['a.txt', 'b.txt', 'sub/deeper/c.txt'])
    assert.equal(plan.bytes, 6)
    const skipped = Object.fromEntries(plan.skipped.map((s) => [s.path, s.reason]))
    assert.match(skipped['link.txt']!, /symbolic link/)
    assert.match(skipped.pipe!, /not a regular file/)
    assert.match(skipped['con.txt']!, /device name/)
    assert.ok(Object.values(skipped).some((r) => /deeper than/.test(r)))
    assert.equal(plan.skipped_count, 4)
  })
  test('a folder with no files is an error', async () => {
    const root = pathJoin(await temp('folders-empty'), 'nothing')
    await mkdir(pathJoin(root, 'sub'), { recursive: true })
    await assert.rejects(walkFolder(root), /has no files to send/)
  })
})

describe('a folder between two engines', () => {
  test('accepting one file of it with folder=true takes the whole tree, in its layout', async () => {
    const root = await temp('folders-engines')
    const alice = await makeNode(pathJoin(root, 'alice'))
    const bob = await makeNode(pathJoin(root, 'bob'))
    joinNodes(alice, bob)
    const source = pathJoin(root, 'album')
    const names = ['1.bin', '2.bin', 'sub/3.bin', 'sub/4.bin', 'sub/x/5.bin', 'sub/x/6.bin']
    const data = new Map<string, Buffer>()
    for (const [i, n] of names.entries()) {
      await mkdir(pathJoin(source, n, '..'), { recursive: true })
      data.set(n, await randomFile(pathJoin(source, n), i * 70_000))
    }
    const inbox = await temp('folders-engines-in')
    const existing = pathJoin(inbox, 'album')
    await mkdir(existing)
    await writeFile(pathJoin(existing, '1.bin'), 'already here')
    const folderEvents: { state: string; files_done: number }[] = []
    alice.engine.on(
      'event',
      (e: { type: string; folder?: { state: string; files_done: number } }) => {
        if (e.type === 'folder.updated') folderEvents.push(e.folder!)
      },
    )
    const sent = await alice.engine.sendPath(bob.id, source)
    assert.ok('kind' in sent && sent.files === 6)
    const offer = await waitFor(bob.engine, (t) => t.state === 'offered')
    await bob.engine.accept(offer.id, inbox, true)
    for (;;) {
      const f = alice.engine.folders.list()[0]!
      if (f.state !== 'sending') {
        assert.equal(f.state, 'completed', JSON.stringify(f.error))
        assert.equal(f.files_done, 6)
        assert.equal(f.bytes_done, f.size)
        break
      }
      await new Promise((r) => setTimeout(r, 20))
    }
    for (const n of names) {
      const at = n === '1.bin' ? '1 (1).bin' : n
      assert.deepEqual(await readFile(pathJoin(inbox, 'album', at)), data.get(n), n)
    }
    assert.equal(await readFile(pathJoin(existing, '1.bin'), 'utf8'), 'already here')
    // folder.updated events: sending at first, one per file delivered, completed last.
    assert.equal(folderEvents[0]!.state, 'sending')
    assert.deepEqual([...new Set(folderEvents.map((e) => e.files_done))], [0, 1, 2, 3, 4, 5, 6])
    const last = folderEvents.at(-1)!
    assert.deepEqual([last.state, last.files_done], ['completed', 6])
    const received = bob.engine.list()
    assert.equal(received.length, 6)
    assert.ok(received.every((t) => t.folder === 'album' && t.state === 'completed'))
    assert.ok(alice.engine.list().every((t) => t.folder_id === sent.id))
  })

  test('a sender restarted mid-folder carries on from its folder record', async () => {
    const root = await temp('folders-restart')
    const ident = await newIdentity()
    let alice = await makeNode(pathJoin(root, 'alice'), {}, ident)
    const bob = await makeNode(pathJoin(root, 'bob'))
    let cut = joinNodes(alice, bob)
    const source = pathJoin(root, 'docs')
    await mkdir(source)
    for (let i = 0; i < 7; i++) await writeFile(pathJoin(source, `${i}.txt`), `file ${i}\n`)
    const sent = await alice.engine.sendPath(bob.id, source)
    // FOLDER_WINDOW files are offered; the rest wait for them.
    await waitFor(
      bob.engine,
      () => bob.engine.list().filter((t) => t.state === 'offered').length === 4,
    )
    cut()
    await alice.engine.close()
    alice = await makeNode(pathJoin(root, 'alice'), {}, ident)
    cut = joinNodes(alice, bob)
    const offer = bob.engine.list().find((t) => t.state === 'offered')!
    const inbox = await temp('folders-restart-in')
    await bob.engine.accept(offer.id, inbox, true)
    for (;;) {
      const f = alice.engine.folders.list().find((x) => x.id === sent.id)!
      if (f.state !== 'sending') {
        assert.equal(f.state, 'completed', JSON.stringify(f.error))
        break
      }
      await new Promise((r) => setTimeout(r, 20))
    }
    assert.deepEqual(
      (await readdir(pathJoin(inbox, 'docs'))).sort(),
      [0, 1, 2, 3, 4, 5, 6].map((i) => `${i}.txt`),
    )
    assert.equal(bob.engine.list().length, 7, 'no file offered twice')
    cut()
  })

  test('a hostile relative name offered raw by a peer is declined BadName, nothing written', async () => {
    const root = await temp('folders-hostile')
    const bob = await makeNode(pathJoin(root, 'bob'), { auto_accept_from: [] })
    const mallory = await newIdentity()
    const [sm, sb] = streamPair()
    bob.engine.attach({ identity: mallory.publicKey, mux: new Protomux(sb), path: () => 'direct' })
    const frames: TransferMessage[] = []
    let opened!: () => void
    const ready = new Promise<void>((r) => {
      opened = r
    })
    const fake = new TransferChannels({
      opened: () => opened(),
      lost: () => {},
      drained: () => {},
      frame: (_peer, raw) => frames.push(decodeTransfer(raw)),
    })
    fake.attach({ identity: bob.identity, mux: new Protomux(sm), path: () => 'direct' })
    await ready
    const hostile = ['../evil.txt', 'top/../../evil.txt', '/etc/passwd', 'a//b', 'top/con.txt']
    for (const [i, name] of hostile.entries()) {
      const id = Buffer.alloc(16, i + 1)
      fake.send(bob.id, {
        type: 'offer',
        id,
        size: 1,
        chunk_bytes: 16384,
        file_hash: Buffer.alloc(32),
        name,
      })
    }
    while (frames.length < hostile.length) await new Promise((r) => setTimeout(r, 10))
    for (const f of frames) {
      assert.equal(f.type, 'decline')
      assert.equal(f.type === 'decline' && f.code, RefusalCode.BadName)
    }
    assert.deepEqual(bob.engine.list(), [], 'no offer was kept')
  })
})

// A receiver with too many offers waiting declines with Busy (§8.4). For a
// file of a folder that is a reason to wait, not a failure: the folder offers
// it again later, and ends completed once it is in.
describe('a folder file declined as Busy', () => {
  /** The engine's side of a folder send, played by hand: offers are recorded, never sent. */
  function fakeHost() {
    const offers: TransferView[] = []
    return {
      offers,
      host: {
        async sendFile(peer: string, path: string, name: string, folder_id: string) {
          const t = {
            id: `${offers.length}`.padStart(32, '0'),
            direction: 'out',
            peer,
            name,
            size: 1,
            bytes_done: 0,
            state: 'offered',
            path,
            folder_id,
            error: null,
          } as unknown as TransferView
          offers.push(t)
          return t
        },
        cancel: async () => {},
        list: () => offers,
      },
    }
  }
  const settle = () => new Promise((r) => setTimeout(r, 50))

  test('is offered again after the wait, not counted failed, and survives a restart', async () => {
    const root = await temp('folders-busy')
    const source = pathJoin(root, 'docs')
    await mkdir(source)
    for (const n of ['a', 'b', 'c']) await writeFile(pathJoin(source, n), n)
    const clock = new SimClock()
    const { offers, host } = fakeHost()
    const sender = new FolderSender(pathJoin(root, 'rec'), host, clock, seededRandom(1))
    await mkdir(pathJoin(root, 'rec'))
    const sent = await sender.send('peer', source)
    assert.deepEqual(
      offers.map((t) => t.name),
      ['docs/a', 'docs/b', 'docs/c'],
    )
    const end = (t: TransferView, state: string, error: TransferView['error'] = null) => {
      t.state = state
      t.error = error
      sender.onTransfer(t)
    }
    end(offers[0]!, 'completed')
    end(offers[2]!, 'completed')
    end(offers[1]!, 'declined', { code: 'BUSY', message: 'too many offers are waiting' })
    await settle()
    let f = sender.list().find((x) => x.id === sent.id)!
    assert.equal(f.state, 'sending', 'the folder waits for its busy file')
    assert.equal(f.files_failed, 0)
    assert.equal(offers.length, 3, 'nothing offered before the wait is over')
    assert.equal(clock.nextDue_ms(), clock.now() + FOLDER_BUSY_RETRY_MS)
    assert.ok(clock.fireNext())
    await settle()
    assert.deepEqual(
      offers.map((t) => t.name),
      ['docs/a', 'docs/b', 'docs/c', 'docs/b'],
    )
    // Busy once more, with no file delivered since: the wait doubles.
    end(offers[3]!, 'declined', { code: 'BUSY', message: 'still busy' })
    await settle()
    assert.equal(clock.nextDue_ms(), clock.now() + 2 * FOLDER_BUSY_RETRY_MS)

    // The daemon restarts during the wait: the busy file is in the folder's record.
    sender.close()
    const { offers: again, host: host2 } = fakeHost()
    const restarted = new FolderSender(pathJoin(root, 'rec'), host2, clock, seededRandom(2))
    await restarted.start()
    await settle()
    assert.deepEqual(
      again.map((t) => t.name),
      ['docs/b'],
      'offered again at start',
    )
    again[0]!.state = 'completed'
    restarted.onTransfer(again[0]!)
    await settle()
    f = restarted.list().find((x) => x.id === sent.id)!
    assert.equal(f.state, 'completed', JSON.stringify(f.error))
    assert.deepEqual([f.files_done, f.files_failed], [3, 0])
    restarted.close()
  })
})
