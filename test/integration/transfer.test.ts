import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import type { FolderView, TransferView } from '../../src/transfer/index.js'
import {
  daemonLogs,
  freeTcpPort,
  initUsers,
  runCli,
  startTestnetProcess,
  type TestnetProcess,
  tempDir,
} from '../helpers/cli.js'
import { writeDistinctChunks } from '../helpers/files.js'

const GiB = 1024 * 1024 * 1024
const RSS_BYTES_MAX = 150 * 1000 * 1000

// Real daemons on a private loopback testnet, driven through the real CLI.
describe('file transfer between daemons', () => {
  let root: Awaited<ReturnType<typeof tempDir>>
  let testnet: TestnetProcess
  const daemons = new Map<string, DaemonProcess>()
  const ids: Record<string, string> = {}
  const home = (name: string) => join(root.path, name)
  const cli = (name: string, args: string[]) =>
    runCli([...args, '--home', home(name), '--json'], { timeout_ms: 60_000 })
  const start = async (name: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    const d = await spawnDaemon({
      home: home(name),
      args: ['--bootstrap', testnet.bootstrap, '--port', '0', ...extra],
      env,
    })
    daemons.set(name, d)
    return d
  }
  const list = async (name: string) =>
    (await daemons.get(name)!.client.request<{ transfers: TransferView[] }>('GET', '/v1/transfers'))
      .transfers
  const waitFor = async (name: string, pred: (t: TransferView) => boolean) => {
    for (;;) {
      const t = (await list(name)).find(pred)
      if (t !== undefined) return t
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  /** Writes `size` distinct bytes, alice offers them to bob; resolves with the source, inbox and id. */
  const offerToBob = async (name: string, size: number) => {
    const source = join(root.path, name)
    await writeDistinctChunks(source, size)
    const inbox = join(root.path, `inbox-${name}`)
    await mkdir(inbox)
    const sent = await cli('alice', ['send-file', ids.bob!, source, '--detach'])
    assert.equal(sent.code, 0, sent.stderr)
    const id = (JSON.parse(sent.stdout) as TransferView).id
    await waitFor('bob', (t) => t.id === id && t.state === 'offered')
    return { source, inbox, id }
  }

  before(async () => {
    root = await tempDir('transfer')
    testnet = await startTestnetProcess(['--nodes', '3'])
    Object.assign(ids, await initUsers(root.path, ['alice', 'bob', 'carol', 'dave']))
    await Promise.all([
      start('alice'),
      start('bob'),
      start('carol', ['--no-filetransfer']),
      start('dave', [], { PARLEY_TEST_CORRUPT_CHUNKS: '2' }),
    ])
  })

  after(async () => {
    await Promise.all([...daemons.values()].map((d) => d.stop('SIGKILL')))
    await testnet?.stop()
    await root?.cleanup()
  })

  // The timeout only turns a hang into a failure; it asserts nothing about speed.
  test('1 GiB, receiver SIGKILLed near 50% and restarted: completes, hash matches, RSS ≤ 150 MB', {
    timeout: 600_000,
  }, async (t) => {
    const { source, inbox, id } = await offerToBob('big.bin', GiB)
    const rss = new RssSampler()
    rss.watch(daemons.get('bob')!.child.pid!)
    const accepted = await cli('bob', [
      'transfers',
      'accept',
      id.slice(0, 8),
      '--to',
      inbox,
      '--detach',
    ])
    assert.equal(accepted.code, 0, accepted.stderr)

    const half = await waitFor('bob', (t) => t.id === id && t.bytes_done >= GiB / 2)
    assert.equal(half.state, 'receiving')
    await daemons.get('bob')!.stop('SIGKILL')

    const bob = await start('bob')
    rss.watch(bob.child.pid!)
    const resumed = (await list('bob')).find((t) => t.id === id)!
    assert.equal(resumed.state, 'receiving', 'the transfer is still on after the restart')
    assert.ok(resumed.bytes_done > 0, 'verified chunks survived SIGKILL')

    const done = await waitFor('bob', (t) => t.id === id && TERMINAL.has(t.state))
    rss.stop()
    assert.equal(done.state, 'completed', JSON.stringify(done.error))
    await waitFor('alice', (t) => t.id === id && t.state === 'completed')
    assert.equal(done.path, join(inbox, 'big.bin'))
    assert.deepEqual(await readdir(inbox), ['big.bin'], 'no partial file left behind')
    assert.equal(await sha256(done.path!), await sha256(source))
    assert.ok(rss.samples > 10, `RSS sampled ${rss.samples} times`)
    assert.ok(rss.max_bytes <= RSS_BYTES_MAX, `receiver RSS peaked at ${rss.max_bytes} bytes`)
    t.diagnostic(
      `receiver RSS peak ${(rss.max_bytes / 1e6).toFixed(1)} MB over ${rss.samples} samples`,
    )
    await rm(done.path!)
    await rm(source)
  })

  test('a chunk corrupted on the path is detected and fetched again', async () => {
    const source = join(root.path, 'report.pdf')
    const data = randomBytes(5 * 256 * 1024 + 7)
    await writeFile(source, data)
    const sent = await cli('dave', ['send-file', ids.bob!, source, '--detach'])
    assert.equal(sent.code, 0, sent.stderr)
    const id = (JSON.parse(sent.stdout) as TransferView).id
    await waitFor('bob', (t) => t.id === id && t.state === 'offered')
    const inbox = join(root.path, 'inbox-report')
    await mkdir(inbox)
    const r = await cli('bob', ['transfers', 'accept', id, '--to', inbox])
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as TransferView
    assert.deepEqual(await readFile(out.path!), data)
    const status = JSON.parse((await cli('bob', ['status'])).stdout)
    assert.equal(status.counters.transfers.corrupt_chunk, 2)
  })

  test('filetransfer off: the sender is told why; the node itself refuses to send', async () => {
    const source = join(root.path, 'note.txt')
    await writeFile(source, 'hi')
    const r = await cli('alice', ['send-file', ids.carol!, source])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /FILETRANSFER_DISABLED/)
    assert.match(r.stderr, /file transfer is turned off/)
    const own = await runCli(['send-file', ids.alice!, source, '--home', home('carol')])
    assert.equal(own.code, 1)
    assert.match(own.stderr, /file transfer is turned off on this node/)
  })

  test('the sender SIGKILLed mid-transfer and restarted: resumes without resending verified chunks', {
    timeout: 300_000,
  }, async () => {
    const size = 128 * 1024 * 1024
    const chunk = 256 * 1024
    const { source, inbox, id } = await offerToBob('sender-restart.bin', size)
    const accepted = await cli('bob', ['transfers', 'accept', id, '--to', inbox, '--detach'])
    assert.equal(accepted.code, 0, accepted.stderr)
    await waitFor('bob', (t) => t.id === id && t.bytes_done >= size / 4)
    await daemons.get('alice')!.stop('SIGKILL')
    // Whatever was on the way when the sender died has landed or is lost now.
    await new Promise((r) => setTimeout(r, 500))
    const verified = (await list('bob')).find((t) => t.id === id)!
    assert.equal(verified.state, 'receiving')
    assert.ok(verified.bytes_done < size, 'the sender died before the end')

    const alice = await start('alice')
    const done = await waitFor('bob', (t) => t.id === id && TERMINAL.has(t.state))
    assert.equal(done.state, 'completed', JSON.stringify(done.error))
    await waitFor('alice', (t) => t.id === id && t.state === 'completed')
    assert.equal(await sha256(done.path!), await sha256(source))
    const status = await alice.client.request<{ counters: { transfers: Record<string, number> } }>(
      'GET',
      '/v1/status',
    )
    const resent = status.counters.transfers.chunks_sent ?? 0
    const missing = (size - verified.bytes_done) / chunk
    assert.ok(
      resent > 0 && resent <= missing,
      `restarted sender sent ${resent} chunks; ${missing} were missing`,
    )
    await rm(done.path!)
    await rm(source)
  })

  test('hostile names are refused before anything is sent; a typo in the ID is a usage error', async () => {
    for (const name of ['CON.txt', 'a:b', 'trailing.']) {
      const path = join(root.path, name)
      await writeFile(path, 'x')
      const r = await cli('alice', ['send-file', ids.bob!, path])
      assert.equal(r.code, 1, `${name}: ${r.stderr}`)
      assert.match(r.stderr, /BAD_FILE_NAME/)
    }
    const bad = await cli('alice', ['send-file', 'not-an-id', join(root.path, 'note.txt')])
    assert.equal(bad.code, 2)
  })

  test('a nested folder arrives whole, in its layout; links and empty folders are not sent', async () => {
    const source = join(root.path, 'album')
    const files: Record<string, Buffer> = {
      'cover.jpg': randomBytes(300_000),
      'notes.txt': Buffer.from('hello, parley\n'),
      'empty-file': Buffer.alloc(0),
      'day 1/a.bin': randomBytes(70_000),
      'day 1/b.bin': randomBytes(1),
      'day 1/raw/c.bin': randomBytes(600_000),
    }
    for (const [rel, data] of Object.entries(files)) {
      await mkdir(join(source, rel, '..'), { recursive: true })
      await writeFile(join(source, rel), data)
    }
    await mkdir(join(source, 'nothing here'))
    await symlink('/etc/passwd', join(source, 'passwd-link'))

    // The CLI follows the whole folder: it returns once every file is delivered.
    const sending = cli('alice', ['send-file', ids.bob!, source])
    const bob = daemons.get('bob')!.client
    let offer: TransferView | undefined
    while (offer === undefined) {
      const { transfers } = await bob.request<{ transfers: TransferView[] }>('GET', '/v1/transfers')
      offer = transfers.find((t) => t.state === 'offered' && t.folder === 'album')
      if (offer === undefined) await new Promise((r) => setTimeout(r, 50))
    }
    const inbox = join(root.path, 'inbox-folder')
    await mkdir(inbox)
    const accepted = await cli('bob', [
      'transfers',
      'accept',
      offer.id.slice(0, 8),
      '--folder',
      '--to',
      inbox,
    ])
    assert.equal(accepted.code, 0, accepted.stderr)

    const sent = await sending
    assert.equal(sent.code, 0, sent.stderr)
    const folder = JSON.parse(sent.stdout) as FolderView
    assert.equal(folder.state, 'completed')
    assert.equal(folder.files, 6)
    assert.equal(folder.files_done, 6)
    assert.equal(folder.bytes_done, 970_015)
    assert.deepEqual(
      folder.skipped.map((s) => s.path),
      ['passwd-link'],
    )

    for (const [rel, data] of Object.entries(files)) {
      assert.deepEqual(await readFile(join(inbox, 'album', rel)), data, rel)
    }
    assert.deepEqual((await readdir(inbox)).sort(), ['album'], 'no partial file left behind')
    assert.deepEqual((await readdir(join(inbox, 'album'))).sort(), [
      'cover.jpg',
      'day 1',
      'empty-file',
      'notes.txt',
    ])

    const listed = await cli('alice', ['transfers'])
    const { folders, transfers } = JSON.parse(listed.stdout) as {
      folders: FolderView[]
      transfers: TransferView[]
    }
    assert.equal(folders.length, 1)
    assert.equal(transfers.filter((t) => t.folder_id === folders[0]!.id).length, 6)
  })

  test('an empty folder is a clear error', async () => {
    const empty = join(root.path, 'empty-folder')
    await mkdir(join(empty, 'sub'), { recursive: true })
    const r = await cli('alice', ['send-file', ids.bob!, empty])
    assert.equal(r.code, 2, 'a usage error')
    assert.match(r.stderr, /has no files to send/)
  })
})

// A supernode relays; both clients may only connect through it (test-only
// PARLEY_TEST_FORCE_RELAY). The receiver paces a relayed transfer under the
// relay's per-session cap, so the relay never cuts it.
describe('file transfer over a relayed path', () => {
  let root: Awaited<ReturnType<typeof tempDir>>
  let testnet: TestnetProcess
  const daemons: DaemonProcess[] = []
  const ids: Record<string, string> = {}

  before(async () => {
    root = await tempDir('transfer-relay')
    testnet = await startTestnetProcess(['--nodes', '3'])
    Object.assign(ids, await initUsers(root.path, ['s1', 'erin', 'frank']))
    const common = ['--bootstrap', testnet.bootstrap, '--port', '0']
    daemons.push(
      await spawnDaemon({ home: join(root.path, 's1'), args: [...common, '--supernode'] }),
    )
    const env = { PARLEY_TEST_FORCE_RELAY: '1', PARLEY_DEBUG: '1' }
    for (const name of ['erin', 'frank']) {
      daemons.push(await spawnDaemon({ home: join(root.path, name), args: common, env }))
    }
  })

  after(async () => {
    await Promise.all(daemons.map((d) => d.stop('SIGKILL')))
    await testnet?.stop()
    await root?.cleanup()
  })

  test('a file crosses a relay intact and the relay does not cut it', async () => {
    const source = join(root.path, 'voice memo.ogg')
    const data = randomBytes(600 * 1024)
    await writeFile(source, data)
    const frankHome = join(root.path, 'frank')
    const sent = await runCli([
      'send-file',
      ids.frank!,
      source,
      '--detach',
      '--json',
      '--home',
      join(root.path, 'erin'),
    ])
    assert.equal(sent.code, 0, sent.stderr)
    const id = (JSON.parse(sent.stdout) as TransferView).id
    let offered = false
    while (!offered) {
      const r = await runCli(['transfers', '--json', '--home', frankHome])
      offered = (JSON.parse(r.stdout).transfers as TransferView[]).some((t) => t.id === id)
      if (!offered) await new Promise((res) => setTimeout(res, 100))
    }
    const r = await runCli(
      ['transfers', 'accept', id, '--to', root.path, '--json', '--home', frankHome],
      {
        timeout_ms: 60_000,
      },
    )
    // It stalled once in CI (the accept ran out of its 60 s): say why next time.
    assert.equal(r.code, 0, `${r.stderr}\n${daemonLogs(daemons)}`)
    const done = JSON.parse(r.stdout) as TransferView
    assert.deepEqual(await readFile(done.path!), data)
    const status = JSON.parse((await runCli(['status', '--json', '--home', frankHome])).stdout)
    assert.deepEqual(
      status.peers.map((p: { path: string }) => p.path),
      ['relayed'],
    )
  })
})

const TERMINAL = new Set(['completed', 'declined', 'cancelled', 'failed'])

function sha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    createReadStream(path)
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject)
  })
}

/** Samples a process's resident set size from /proc every 50 ms. */
class RssSampler {
  max_bytes = 0
  samples = 0
  private timer: NodeJS.Timeout | null = null
  watch(pid: number): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = setInterval(() => {
      readFile(`/proc/${pid}/status`, 'utf8').then(
        (text) => {
          const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(text)?.[1] ?? 0)
          this.samples++
          this.max_bytes = Math.max(this.max_bytes, kb * 1024)
        },
        () => {},
      )
    }, 50)
  }
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
  }
}

// One side has UDP off and reaches everything through a supernode's TCP
// gateway (as in gateway.test.ts); the transfer runs over that tunnel.
describe('file transfer through the TCP gateway', () => {
  let root: Awaited<ReturnType<typeof tempDir>>
  let testnet: TestnetProcess
  const daemons: DaemonProcess[] = []
  const ids: Record<string, string> = {}

  before(async () => {
    root = await tempDir('transfer-gateway')
    testnet = await startTestnetProcess(['--nodes', '3'])
    Object.assign(ids, await initUsers(root.path, ['s1', 'gina', 'hank']))
    const common = ['--bootstrap', testnet.bootstrap, '--port', '0']
    const port = String(await freeTcpPort())
    const gateway = ['--supernode', '--gateway-port', port, '--gateway-host', '127.0.0.1']
    daemons.push(await spawnDaemon({ home: join(root.path, 's1'), args: [...common, ...gateway] }))
    const noUdp = ['--no-udp', '--gateways', `127.0.0.1:${port}`]
    daemons.push(
      ...(await Promise.all([
        spawnDaemon({ home: join(root.path, 'gina'), args: noUdp }),
        spawnDaemon({
          home: join(root.path, 'hank'),
          args: [...common, '--auto-accept-from', ids.gina!],
        }),
      ])),
    )
  })

  after(async () => {
    await Promise.all(daemons.map((d) => d.stop('SIGKILL')))
    await testnet?.stop()
    await root?.cleanup()
  })

  test('a UDP-less sender: the file arrives whole over the gateway', async () => {
    const source = join(root.path, 'slides.pdf')
    await writeDistinctChunks(source, 8 * 1024 * 1024 + 99)
    const sent = await runCli([
      'send-file',
      ids.hank!,
      source,
      '--json',
      '--home',
      join(root.path, 'gina'),
    ])
    assert.equal(sent.code, 0, sent.stderr)
    const out = JSON.parse(sent.stdout) as TransferView
    assert.equal(out.state, 'completed')
    assert.equal(out.link, 'gateway')
    const r = await runCli(['transfers', '--json', '--home', join(root.path, 'hank')])
    const received = (JSON.parse(r.stdout).transfers as TransferView[]).find(
      (t) => t.id === out.id,
    )!
    assert.equal(received.state, 'completed')
    assert.equal(received.file_hash, out.file_hash)
    assert.equal(await sha256(received.path!), await sha256(source))
  })
})
