import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  createKeystore,
  encodeId,
  ensureHome,
  generateIdentity,
  type IdentityKeys,
  isKeystoreEncrypted,
  KEYSTORE_FILE,
  readPublicIdentity,
  unlockKeystore,
} from '../../../src/identity/index.js'
import { type ErrorCode, isParleyError } from '../../../src/util/errors.js'

const NOW_MS = 1_767_225_600_000
const POSIX = process.platform !== 'win32'
let root: string
let counter = 0

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-identity-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

function newHome(): string {
  return join(root, `home-${counter++}`)
}

function newKeys(name = 'alice'): IdentityKeys {
  return generateIdentity({ name, deviceName: 'laptop', now_ms: NOW_MS })
}

function code(expected: ErrorCode, message?: RegExp) {
  return (err: unknown) =>
    isParleyError(err, expected) && (message === undefined || message.test(err.message))
}

function assertSameKeys(actual: IdentityKeys, expected: IdentityKeys): void {
  assert.equal(actual.name, expected.name)
  assert.deepEqual(actual.identity, expected.identity)
  assert.deepEqual(actual.device, expected.device)
  assert.deepEqual(actual.certificate, expected.certificate)
}

async function homeWithKeystore(
  passphrase: string | null,
): Promise<{ home: string; file: string; keys: IdentityKeys }> {
  const home = newHome()
  const keys = newKeys()
  await createKeystore(home, keys, passphrase)
  return { home, file: join(home, KEYSTORE_FILE), keys }
}

describe('keystore without a passphrase', () => {
  it('creates a 0700 home and a 0600 file, and unlocks to the same keys', async () => {
    const { home, file, keys } = await homeWithKeystore(null)
    if (POSIX) {
      assert.equal((await stat(home)).mode & 0o777, 0o700)
      assert.equal((await stat(file)).mode & 0o777, 0o600)
    }
    assert.deepEqual(await readdir(home), [KEYSTORE_FILE], 'no temporary file is left behind')
    const json = JSON.parse(await readFile(file, 'utf-8'))
    assert.equal(json.format, 'parley-keystore')
    assert.equal(json.version, 1)
    assert.equal(json.encryption, null)
    assert.equal(json.identity_public_key, keys.identity.publicKey.toString('hex'))
    assertSameKeys(await unlockKeystore(home, null), keys)
    assert.equal(await isKeystoreEncrypted(home), false)
    const pub = await readPublicIdentity(home)
    assert.deepEqual(pub, {
      name: 'alice',
      identityPublicKey: keys.identity.publicKey,
      devicePublicKey: keys.device.publicKey,
      encrypted: false,
    })
  })

  it('refuses to overwrite an existing identity and leaves it byte-identical', async () => {
    const { home, file, keys } = await homeWithKeystore(null)
    const before = await readFile(file)
    await assert.rejects(
      createKeystore(home, newKeys('mallory'), null),
      code(
        'IDENTITY_EXISTS',
        new RegExp(`already exists in .*\\(${encodeId(keys.identity.publicKey)}\\)`),
      ),
    )
    assert.deepEqual(await readFile(file), before)
    assert.deepEqual(await readdir(home), [KEYSTORE_FILE])
  })

  it('reports a missing identity with what to do', async () => {
    const home = newHome()
    const missing = code('IDENTITY_MISSING', /run `parley init` first/)
    await assert.rejects(readPublicIdentity(home), missing)
    await assert.rejects(unlockKeystore(home, null), missing)
    await assert.rejects(isKeystoreEncrypted(home), missing)
    await ensureHome(home)
    await assert.rejects(readPublicIdentity(home), missing)
  })

  it('reports a truncated file as damaged on every read path and never touches it', async () => {
    const { home, file } = await homeWithKeystore(null)
    const full = await readFile(file)
    for (const length of [0, 1, 10, Math.floor(full.byteLength / 2), full.byteLength - 3]) {
      const cut = full.subarray(0, length)
      await writeFile(file, cut)
      const corrupt = code('KEYSTORE_CORRUPT', /is damaged \(.*\): it was left untouched/)
      await assert.rejects(readPublicIdentity(home), corrupt, `cut at ${length}`)
      await assert.rejects(unlockKeystore(home, null), corrupt, `cut at ${length}`)
      await assert.rejects(isKeystoreEncrypted(home), corrupt, `cut at ${length}`)
      assert.deepEqual(await readFile(file), cut)
    }
  })

  it('reports secrets that do not match the public keys as damaged', async () => {
    const { home, file } = await homeWithKeystore(null)
    const json = JSON.parse(await readFile(file, 'utf-8'))
    json.identity_public_key = newKeys().identity.publicKey.toString('hex')
    await writeFile(file, JSON.stringify(json))
    await assert.rejects(unlockKeystore(home, null), code('KEYSTORE_CORRUPT', /does not match/))
  })

  it('refuses to unlock a keystore that others can read, but still shows the public identity', async (t) => {
    if (!POSIX) return t.skip('POSIX permissions only')
    const { home, file } = await homeWithKeystore(null)
    await chmod(file, 0o640)
    await assert.rejects(unlockKeystore(home, null), code('INSECURE_PERMISSIONS', /chmod 600 /))
    assert.equal((await readPublicIdentity(home)).name, 'alice')
    assert.equal((await stat(file)).mode & 0o777, 0o640, 'the mode is not changed behind the user')
  })

  it('rejects an empty passphrase and an invalid name before writing anything', async () => {
    const home = newHome()
    await assert.rejects(createKeystore(home, newKeys(), ''), code('USAGE'))
    await assert.rejects(createKeystore(home, { ...newKeys(), name: '' }, null), code('USAGE'))
    await assert.rejects(readPublicIdentity(home), code('IDENTITY_MISSING'))
  })
})

describe('keystore with a passphrase', () => {
  let home: string
  let file: string
  let keys: IdentityKeys

  before(async () => {
    ;({ home, file, keys } = await homeWithKeystore('correct horse'))
  })

  it('stores Argon2id parameters and no plaintext seed', async () => {
    const json = JSON.parse(await readFile(file, 'utf-8'))
    assert.equal(json.encryption.kdf, 'argon2id13')
    assert.equal(json.encryption.cipher, 'xsalsa20poly1305')
    assert.equal(json.encryption.opslimit, 2)
    assert.equal(json.encryption.memlimit, 64 * 1024 * 1024)
    assert.equal(json.encryption.salt.length, 32)
    assert.equal(json.encryption.nonce.length, 48)
    const seedHex = keys.identity.secretKey.subarray(0, 32).toString('hex')
    assert.ok(!(await readFile(file, 'utf-8')).includes(seedHex))
    assert.equal(await isKeystoreEncrypted(home), true)
    assert.equal((await readPublicIdentity(home)).encrypted, true)
  })

  it('unlocks with the passphrase (in any Unicode normal form)', async () => {
    assertSameKeys(await unlockKeystore(home, 'correct horse'), keys)
    const nfdHome = newHome()
    const nfdKeys = newKeys()
    await createKeystore(nfdHome, nfdKeys, 'caf\u00e9')
    assertSameKeys(await unlockKeystore(nfdHome, 'cafe\u0301'), nfdKeys)
  })

  it('says which error it is when the passphrase is missing or wrong, and leaves the file alone', async () => {
    const before = await readFile(file)
    await assert.rejects(
      unlockKeystore(home, null),
      code('PASSPHRASE_REQUIRED', /PARLEY_PASSPHRASE/),
    )
    await assert.rejects(
      unlockKeystore(home, 'wrong horse'),
      code('WRONG_PASSPHRASE', /wrong passphrase for .*: try again, or set PARLEY_PASSPHRASE/),
    )
    assert.deepEqual(await readFile(file), before)
  })

  it('reports truncation as damaged without asking for the passphrase', async () => {
    const copyHome = newHome()
    await ensureHome(copyHome)
    const full = await readFile(file)
    const cut = full.subarray(0, full.byteLength - 40)
    await writeFile(join(copyHome, KEYSTORE_FILE), cut, { mode: 0o600 })
    await assert.rejects(unlockKeystore(copyHome, 'correct horse'), code('KEYSTORE_CORRUPT'))
    assert.deepEqual(await readFile(join(copyHome, KEYSTORE_FILE)), cut)
  })

  it('treats absurd key-derivation limits as damage instead of running them', async () => {
    const json = JSON.parse(await readFile(file, 'utf-8'))
    for (const [key, value] of [
      ['memlimit', 2 * 1024 * 1024 * 1024],
      ['opslimit', 21],
      ['opslimit', 0],
    ] as const) {
      const copyHome = newHome()
      await ensureHome(copyHome)
      const text = JSON.stringify({ ...json, encryption: { ...json.encryption, [key]: value } })
      await writeFile(join(copyHome, KEYSTORE_FILE), text, { mode: 0o600 })
      await assert.rejects(
        unlockKeystore(copyHome, 'correct horse'),
        code('KEYSTORE_CORRUPT', new RegExp(key)),
      )
      await assert.rejects(readPublicIdentity(copyHome), code('KEYSTORE_CORRUPT'))
    }
  })
})

describe('ensureHome', () => {
  it('creates nested directories and tightens an existing group-readable home', async (t) => {
    if (!POSIX) return t.skip('POSIX permissions only')
    const home = join(newHome(), 'a', 'b')
    await ensureHome(home)
    assert.equal((await stat(home)).mode & 0o777, 0o700)
    const loose = newHome()
    await mkdir(loose, { mode: 0o755 })
    await chmod(loose, 0o755)
    await ensureHome(loose)
    assert.equal((await stat(loose)).mode & 0o777, 0o700)
  })

  it('says so when the home is a file', async () => {
    const path = newHome()
    await writeFile(path, 'x')
    await assert.rejects(ensureHome(path), code('USAGE', /not a directory/))
  })
})
