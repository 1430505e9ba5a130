import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  createToken,
  DAEMON_FILE,
  readDaemonInfo,
  readToken,
  removeDaemonInfo,
  TOKEN_FILE,
  writeDaemonInfo,
} from '../../../src/api/index.js'
import { isParleyError } from '../../../src/util/errors.js'

describe('api files', () => {
  let home: string
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'parley-api-files-'))
  })
  after(() => rm(home, { recursive: true, force: true }))

  test('createToken writes 32 random bytes as hex, mode 0600, and readToken reads them', async () => {
    const token = await createToken(home)
    assert.match(token, /^[0-9a-f]{64}$/)
    assert.equal((await stat(join(home, TOKEN_FILE))).mode & 0o777, 0o600)
    assert.equal(await readToken(home), token)
  })

  test('a new token replaces the old one and leaves no temp files', async () => {
    const first = await createToken(home)
    const second = await createToken(home)
    assert.notEqual(first, second)
    assert.equal(await readToken(home), second)
    assert.equal((await stat(join(home, TOKEN_FILE))).mode & 0o777, 0o600)
    const leftovers = (await readdir(home)).filter((f) => f.endsWith('.tmp'))
    assert.deepEqual(leftovers, [])
  })

  test('createToken makes a missing home directory, private', async () => {
    const nested = join(home, 'new', 'home')
    await createToken(nested)
    assert.equal((await stat(nested)).mode & 0o777, 0o700)
  })

  test('a missing or malformed token is DAEMON_NOT_RUNNING', async () => {
    const empty = join(home, 'empty')
    await assert.rejects(readToken(empty), (err) => isParleyError(err, 'DAEMON_NOT_RUNNING'))
    await createToken(empty)
    await writeFile(join(empty, TOKEN_FILE), 'not a token\n')
    await assert.rejects(
      readToken(empty),
      (err) => isParleyError(err, 'DAEMON_NOT_RUNNING') && /malformed/.test(err.message),
    )
  })

  test('daemon info round-trips through a 0600 file and can be removed twice', async () => {
    const info = { pid: 1234, host: '127.0.0.1', port: 4567, started_at_ms: 1_700_000_000_000 }
    await writeDaemonInfo(home, info)
    assert.equal((await stat(join(home, DAEMON_FILE))).mode & 0o777, 0o600)
    assert.deepEqual(JSON.parse(await readFile(join(home, DAEMON_FILE), 'utf8')), info)
    assert.deepEqual(await readDaemonInfo(home), info)
    await removeDaemonInfo(home)
    await removeDaemonInfo(home)
    assert.equal(await readDaemonInfo(home), null)
  })

  test('a malformed daemon.json is an error that names the file', async () => {
    for (const text of ['{', '{"pid":1,"host":"127.0.0.1","port":70000,"started_at_ms":1}', '[]']) {
      await writeFile(join(home, DAEMON_FILE), text)
      await assert.rejects(
        readDaemonInfo(home),
        (err) => isParleyError(err, 'DAEMON_NOT_RUNNING') && err.message.includes(DAEMON_FILE),
      )
    }
    await removeDaemonInfo(home)
  })
})
