// Identity layer: who a Parley user is. The long-term Ed25519 identity key's
// public key IS the Parley ID; a device key (used for Noise on the DHT) is
// vouched for by a certificate the identity key signs. Keys live in a
// keystore file under the home directory. Formats: README.md beside this file.

export {
  type DeviceCertificate,
  decodeDeviceCertificate,
  deviceCertificateEncoding,
  encodeDeviceCertificate,
  signDeviceCertificate,
  verifyDeviceCertificate,
} from './certificate.js'
export { decodeId, encodeId, looksLikeId, safetyFingerprint } from './id.js'
export { generateIdentity, type IdentityKeys, type PublicIdentity } from './identity.js'
export { generateKeyPair, type KeyPair, sign, verify } from './keys.js'
export {
  createKeystore,
  ensureHome,
  isKeystoreEncrypted,
  KEYSTORE_FILE,
  readPublicIdentity,
  unlockKeystore,
} from './keystore.js'
