import { hostname } from 'node:os'
import {
  createKeystore,
  encodeId,
  ensureHome,
  generateIdentity,
  readPublicIdentity,
  safetyFingerprint,
} from '../../identity/index.js'
import { ParleyError } from '../../util/errors.js'
import type { Output } from '../output.js'
import { obtainPassphrase } from '../passphrase.js'

export const NAME_BYTES_MAX = 64

export async function cmdInit(
  home: string,
  flags: { name?: string; 'no-passphrase'?: boolean; 'device-name'?: string },
  out: Output,
): Promise<void> {
  const name = (flags.name ?? process.env.USER ?? 'me').trim()
  if (name === '' || Buffer.byteLength(name) > NAME_BYTES_MAX) {
    throw new ParleyError('USAGE', `--name must be 1 to ${NAME_BYTES_MAX} bytes`)
  }
  const deviceName = truncateUtf8(flags['device-name'] ?? hostname(), 32)
  await ensureHome(home)
  // Fail before asking for a passphrase if there is already an identity here.
  const existing = await readPublicIdentity(home).catch(() => null)
  if (existing !== null) {
    throw new ParleyError(
      'IDENTITY_EXISTS',
      `an identity already exists in ${home} (${encodeId(existing.identityPublicKey)}): refusing to overwrite it`,
    )
  }
  const passphrase = flags['no-passphrase']
    ? null
    : await obtainPassphrase({ confirm: true, purpose: 'encrypt the new keystore' })
  const keys = generateIdentity({ name, deviceName, now_ms: Date.now() })
  await createKeystore(home, keys, passphrase)
  const id = encodeId(keys.identity.publicKey)
  out.result(
    {
      id,
      name,
      fingerprint: safetyFingerprint(keys.identity.publicKey),
      home,
      encrypted: passphrase !== null,
    },
    id,
  )
  if (!out.json)
    out.info(
      `created identity "${name}" in ${home}${passphrase === null ? ' (keys NOT encrypted)' : ''}`,
    )
}

export async function cmdId(home: string, out: Output): Promise<void> {
  const pub = await readPublicIdentity(home)
  const id = encodeId(pub.identityPublicKey)
  const fingerprint = safetyFingerprint(pub.identityPublicKey)
  out.result(
    {
      id,
      name: pub.name,
      fingerprint,
      device: pub.devicePublicKey.toString('hex'),
      encrypted: pub.encrypted,
    },
    `${id}\nname:        ${pub.name}\nfingerprint: ${fingerprint}`,
  )
}

/** Cuts to at most `bytes_max` UTF-8 bytes without splitting a character. */
function truncateUtf8(text: string, bytes_max: number): string {
  let out = ''
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > bytes_max) break
    out += ch
  }
  return out
}
