// The keystore: one file, <home>/identity.json, holding this device's
// identity and device keys (format in keystore-format.ts and README.md).
// Rules: never overwrite an existing identity; write atomically; never
// rewrite the file on a read path, so a damaged keystore stays exactly as it
// was for the user to recover; refuse to unlock a file others can read.

import { constants as fsConstants } from 'node:fs'
import { chmod, mkdir, open, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { assert, ParleyError } from '../util/errors.js'
import { codeOf, createFileAtomically, pathExists } from './atomic-file.js'
import { type DeviceCertificate, verifyDeviceCertificate } from './certificate.js'
import { HOME_DIR_MODE, KEYSTORE_FILE_BYTES_MAX, KEYSTORE_FILE_MODE } from './constants.js'
import { encodeId } from './id.js'
import { type IdentityKeys, identityNameProblem, type PublicIdentity } from './identity.js'
import { generateKeyPair, type KeyPair, seedOf, wipe } from './keys.js'
import { open as openSecret, seal } from './keystore-crypto.js'
import {
  decodeSecretPayload,
  encodeSecretPayload,
  type KeystoreDocument,
  NewerKeystoreError,
  parseKeystore,
  serializeKeystore,
} from './keystore-format.js'

export const KEYSTORE_FILE = 'identity.json'

// POSIX permission bits mean nothing on Windows; there the checks are skipped.
const POSIX = process.platform !== 'win32'
const GROUP_OTHER_BITS = 0o077

/** Creates the home directory (mode 0700) or tightens an existing one that others can enter. */
export async function ensureHome(home: string): Promise<void> {
  try {
    await mkdir(home, { recursive: true, mode: HOME_DIR_MODE })
  } catch (err) {
    if (codeOf(err) === 'EEXIST' || codeOf(err) === 'ENOTDIR') throw notADirectory(home)
    throw err
  }
  const st = await stat(home)
  if (!st.isDirectory()) throw notADirectory(home)
  if (POSIX && (st.mode & GROUP_OTHER_BITS) !== 0) await chmod(home, HOME_DIR_MODE)
}

/** Writes a new keystore; with a passphrase the secret keys are encrypted. Never overwrites. */
export async function createKeystore(
  home: string,
  keys: IdentityKeys,
  passphrase: string | null,
): Promise<void> {
  checkKeysToStore(keys)
  if (passphrase === '') {
    throw new ParleyError(
      'USAGE',
      'the passphrase is empty: choose one, or create the identity without a passphrase',
    )
  }
  await ensureHome(home)
  const file = keystorePath(home)
  // Checked before the slow key derivation; createFileAtomically closes the race.
  if (await pathExists(file)) throw await identityExists(home)
  const text = serializeKeystore(await buildDocument(keys, passphrase))
  const created = await createFileAtomically(file, text, KEYSTORE_FILE_MODE)
  if (!created) throw await identityExists(home)
}

/** Name and public keys, without the passphrase. Does not check permissions: nothing secret is returned. */
export async function readPublicIdentity(home: string): Promise<PublicIdentity> {
  const { doc } = await loadKeystore(home)
  wipe(doc.secret)
  return {
    name: doc.name,
    identityPublicKey: doc.identityPublicKey,
    devicePublicKey: doc.devicePublicKey,
    encrypted: doc.encryption !== null,
  }
}

export async function isKeystoreEncrypted(home: string): Promise<boolean> {
  return (await readPublicIdentity(home)).encrypted
}

/** The keys, after checking that the secrets regenerate the stored public keys and certificate. */
export async function unlockKeystore(
  home: string,
  passphrase: string | null,
): Promise<IdentityKeys> {
  const { file, doc, mode } = await loadKeystore(home)
  // Like ssh with a private key: a key others could have copied is refused, not silently used.
  if (POSIX && (mode & GROUP_OTHER_BITS) !== 0) {
    wipe(doc.secret)
    throw new ParleyError(
      'INSECURE_PERMISSIONS',
      `keystore ${file} is open to other users (mode ${(mode & 0o777).toString(8)}): run \`chmod 600 ${file}\` and try again`,
    )
  }
  const payload = await openPayload(file, doc, passphrase)
  try {
    return rebuildKeys(file, doc, payload)
  } finally {
    wipe(payload)
  }
}

function keystorePath(home: string): string {
  return join(home, KEYSTORE_FILE)
}

function checkKeysToStore(keys: IdentityKeys): void {
  const problem = identityNameProblem(keys.name)
  if (problem !== null) throw new ParleyError('USAGE', `the identity name ${problem}`)
  const cert = keys.certificate
  assert(verifyDeviceCertificate(cert), 'the device certificate verifies')
  assert(
    cert.identityPublicKey.equals(keys.identity.publicKey),
    'the certificate names this identity key',
  )
  assert(
    cert.devicePublicKey.equals(keys.device.publicKey),
    'the certificate names this device key',
  )
}

async function buildDocument(
  keys: IdentityKeys,
  passphrase: string | null,
): Promise<KeystoreDocument> {
  const identitySeed = seedOf(keys.identity.secretKey)
  const deviceSeed = seedOf(keys.device.secretKey)
  const payload = encodeSecretPayload({ identitySeed, deviceSeed, certificate: keys.certificate })
  wipe(identitySeed, deviceSeed)
  const sealed =
    passphrase === null ? { encryption: null, secret: payload } : await seal(payload, passphrase)
  if (passphrase !== null) wipe(payload)
  return {
    name: keys.name,
    identityPublicKey: keys.identity.publicKey,
    devicePublicKey: keys.device.publicKey,
    ...sealed,
  }
}

async function loadKeystore(
  home: string,
): Promise<{ file: string; doc: KeystoreDocument; mode: number }> {
  const file = keystorePath(home)
  let handle: Awaited<ReturnType<typeof open>>
  try {
    // O_NONBLOCK: a FIFO planted at this path must not hang the reader.
    handle = await open(file, fsConstants.O_RDONLY | (POSIX ? fsConstants.O_NONBLOCK : 0))
  } catch (err) {
    if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') {
      throw new ParleyError(
        'IDENTITY_MISSING',
        `no identity in ${home}: run \`parley init\` first (or pass --home)`,
      )
    }
    throw err
  }
  try {
    const st = await handle.stat()
    if (!st.isFile()) throw damaged(file, 'not a regular file')
    if (st.size > KEYSTORE_FILE_BYTES_MAX) {
      throw damaged(file, `${st.size} bytes, far larger than a keystore`)
    }
    const text = await handle.readFile('utf-8')
    return { file, doc: parseDocument(file, text), mode: st.mode }
  } finally {
    await handle.close()
  }
}

function parseDocument(file: string, text: string): KeystoreDocument {
  try {
    return parseKeystore(text)
  } catch (err) {
    if (err instanceof NewerKeystoreError) {
      throw new ParleyError(
        'KEYSTORE_CORRUPT',
        `keystore ${file} has format version ${err.version}, which this Parley cannot read: it was left untouched; upgrade Parley`,
      )
    }
    throw damaged(file, (err as Error).message)
  }
}

async function openPayload(
  file: string,
  doc: KeystoreDocument,
  passphrase: string | null,
): Promise<Buffer> {
  if (doc.encryption === null) return doc.secret
  if (passphrase === null) {
    throw new ParleyError(
      'PASSPHRASE_REQUIRED',
      `keystore ${file} is encrypted: enter its passphrase, or set PARLEY_PASSPHRASE`,
    )
  }
  const payload = await openSecret(doc.secret, passphrase, doc.encryption)
  if (payload === null) {
    throw new ParleyError(
      'WRONG_PASSPHRASE',
      `wrong passphrase for ${file}: try again, or set PARLEY_PASSPHRASE`,
    )
  }
  return payload
}

function rebuildKeys(file: string, doc: KeystoreDocument, payload: Buffer): IdentityKeys {
  let secrets: ReturnType<typeof decodeSecretPayload>
  try {
    secrets = decodeSecretPayload(payload)
  } catch (err) {
    throw damaged(file, `secret keys: ${(err as Error).message}`)
  }
  const identity = generateKeyPair(secrets.identitySeed)
  const device = generateKeyPair(secrets.deviceSeed)
  wipe(secrets.identitySeed, secrets.deviceSeed)
  const problem = mismatch(doc, identity, device, secrets.certificate)
  if (problem !== null) {
    wipe(identity.secretKey, device.secretKey)
    throw damaged(file, problem)
  }
  return { name: doc.name, identity, device, certificate: secrets.certificate }
}

/** Why the unlocked secrets disagree with the public part of the file, or null if they agree. */
function mismatch(
  doc: KeystoreDocument,
  identity: KeyPair,
  device: KeyPair,
  cert: DeviceCertificate,
): string | null {
  if (!identity.publicKey.equals(doc.identityPublicKey)) {
    return 'the identity secret key does not match identity_public_key'
  }
  if (!device.publicKey.equals(doc.devicePublicKey)) {
    return 'the device secret key does not match device_public_key'
  }
  if (
    !cert.identityPublicKey.equals(identity.publicKey) ||
    !cert.devicePublicKey.equals(device.publicKey)
  ) {
    return 'the device certificate is for other keys'
  }
  if (!verifyDeviceCertificate(cert)) return 'the device certificate signature is invalid'
  return null
}

function damaged(file: string, detail: string): ParleyError {
  return new ParleyError(
    'KEYSTORE_CORRUPT',
    `keystore ${file} is damaged (${detail}): it was left untouched; restore it from a backup or move it away and run \`parley init\``,
  )
}

async function identityExists(home: string): Promise<ParleyError> {
  const id = await readPublicIdentity(home).then(
    (pub) => encodeId(pub.identityPublicKey),
    () => 'its keystore is unreadable',
  )
  return new ParleyError(
    'IDENTITY_EXISTS',
    `an identity already exists in ${home} (${id}): refusing to overwrite it`,
  )
}

function notADirectory(home: string): ParleyError {
  return new ParleyError('USAGE', `${home} exists but is not a directory: pass another --home`)
}
