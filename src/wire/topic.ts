// The DHT topic under which every device of one identity announces itself
// (PROTOCOL.md §4.1).

import sodium from 'sodium-native'
import { assert } from '../util/errors.js'
import {
  IDENTITY_TOPIC_BYTES,
  IDENTITY_TOPIC_CONTEXT,
  SUPERNODE_TOPIC_CONTEXT,
} from './constants.js'

const IDENTITY_PUBLIC_KEY_BYTES = 32
// The context and its 0x00 separator keep this hash from ever equalling
// another Parley (or hyperdht) hash of the same key.
const TOPIC_PREFIX = Buffer.concat([Buffer.from(IDENTITY_TOPIC_CONTEXT, 'ascii'), Buffer.from([0])])

/** BLAKE2b-256("parley/identity/v1" || 0x00 || identity_pk), same hash as hyperdht's DHT.hash. */
export function identityTopic(identityPublicKey: Uint8Array): Buffer {
  assert(
    identityPublicKey instanceof Uint8Array &&
      identityPublicKey.byteLength === IDENTITY_PUBLIC_KEY_BYTES,
    `an identity public key is ${IDENTITY_PUBLIC_KEY_BYTES} bytes`,
  )
  const topic = Buffer.alloc(IDENTITY_TOPIC_BYTES)
  sodium.crypto_generichash(topic, Buffer.concat([TOPIC_PREFIX, identityPublicKey]))
  return topic
}

/** BLAKE2b-256("parley/supernodes/v1"): where supernodes announce themselves (PROTOCOL.md §4.4). */
export function supernodeTopic(): Buffer {
  const topic = Buffer.alloc(IDENTITY_TOPIC_BYTES)
  sodium.crypto_generichash(topic, Buffer.from(SUPERNODE_TOPIC_CONTEXT, 'ascii'))
  return topic
}
