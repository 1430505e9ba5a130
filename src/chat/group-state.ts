// The group state (PROTOCOL.md §11.7): a group's name and full member list
// at one version, signed by the group's admin (its creator). Every change
// (create, invite, remove) is a new state with the next `seq`; members keep
// the highest one they have verified. The group id is bound to the admin,
// so nobody else can sign states for it.

import c from 'compact-encoding'
import sodium from 'sodium-native'
import { sign, verify } from '../identity/index.js'
import { ParleyError } from '../util/errors.js'
import {
  checkString,
  checkUint,
  decodeStrict,
  malformed,
  readFixed,
  readString,
  readU8,
  readUint,
  type State,
  tooLarge,
} from '../wire/codec.js'
import {
  GROUP_ID_CONTEXT,
  GROUP_MEMBERS_MAX,
  GROUP_NAME_BYTES_MAX,
  GROUP_NONCE_BYTES,
  GROUP_STATE_BYTES_MAX,
  GROUP_STATE_SIGNING_CONTEXT,
  GROUP_STATE_VERSION,
  TIME_MS_MAX,
} from './constants.js'

export interface GroupStateFields {
  admin: Buffer
  nonce: Buffer
  seq: number
  changedAtMs: number
  name: string
  /** Identity keys, byte-wise ascending, no repeats, the admin among them. */
  members: Buffer[]
}

export type GroupState = GroupStateFields & { signature: Buffer }

const SIGNING_PREFIX = Buffer.concat([
  Buffer.from(GROUP_STATE_SIGNING_CONTEXT, 'ascii'),
  Buffer.from([0]),
])
const ID_PREFIX = Buffer.concat([Buffer.from(GROUP_ID_CONTEXT, 'ascii'), Buffer.from([0])])

/** BLAKE2b-256("parley/group/v1" || 0x00 || admin || nonce). */
export function groupIdOf(admin: Uint8Array, nonce: Uint8Array): Buffer {
  const out = Buffer.alloc(32)
  sodium.crypto_generichash(out, Buffer.concat([ID_PREFIX, admin, nonce]))
  return out
}

/** Sorted, without repeats: the one order a state lists its members in. */
export function sortMembers(members: Buffer[]): Buffer[] {
  const sorted = [...members].sort(Buffer.compare)
  return sorted.filter((m, i) => i === 0 || !m.equals(sorted[i - 1]!))
}

function checkMembers(f: GroupStateFields): void {
  const m = f.members
  if (!Array.isArray(m) || m.length < 1 || m.length > GROUP_MEMBERS_MAX)
    throw malformed(`members: 1 to ${GROUP_MEMBERS_MAX}`)
  for (let i = 0; i < m.length; i++) {
    if (!(m[i] instanceof Uint8Array) || m[i]!.byteLength !== 32)
      throw malformed('members: 32-byte keys')
    if (i > 0 && Buffer.compare(m[i - 1]!, m[i]!) >= 0)
      throw malformed('members: must be ascending with no repeats')
  }
  if (!m.some((x) => Buffer.from(x).equals(f.admin)))
    throw malformed('members: the admin is missing')
}

function encodeUnsigned(f: GroupStateFields): Buffer {
  if (!(f.admin instanceof Uint8Array) || f.admin.byteLength !== 32)
    throw malformed('admin: must be 32 bytes')
  if (!(f.nonce instanceof Uint8Array) || f.nonce.byteLength !== GROUP_NONCE_BYTES)
    throw malformed(`nonce: must be ${GROUP_NONCE_BYTES} bytes`)
  if (typeof f.name !== 'string' || f.name.trim() === '') throw malformed('name: must not be empty')
  checkMembers(f)
  const t = Buffer.alloc(8)
  t.writeBigUInt64LE(BigInt(checkUint(f.changedAtMs, 'changed_at_ms', TIME_MS_MAX)))
  const out = Buffer.concat([
    Buffer.from([GROUP_STATE_VERSION]),
    Buffer.from(f.admin),
    Buffer.from(f.nonce),
    c.encode(c.uint, checkUint(f.seq, 'seq')),
    t,
    c.encode(c.string, checkString(f.name, 'name', GROUP_NAME_BYTES_MAX)),
    Buffer.from([f.members.length]),
    ...f.members.map((m) => Buffer.from(m)),
  ])
  if (out.byteLength + 64 > GROUP_STATE_BYTES_MAX) throw tooLarge('group state too large')
  return out
}

export function signGroupState(f: GroupStateFields, adminSecretKey: Uint8Array): Buffer {
  const unsigned = encodeUnsigned(f)
  return Buffer.concat([unsigned, sign(Buffer.concat([SIGNING_PREFIX, unsigned]), adminSecretKey)])
}

export function encodeGroupState(s: GroupState): Buffer {
  if (!(s.signature instanceof Uint8Array) || s.signature.byteLength !== 64)
    throw malformed('signature: must be 64 bytes')
  return Buffer.concat([encodeUnsigned(s), Buffer.from(s.signature)])
}

/** Decodes and verifies the admin's signature. Throws ParleyError only. */
export function decodeGroupState(buf: Uint8Array): GroupState {
  const s = decodeStrict(buf, 'group state', readGroupState, GROUP_STATE_BYTES_MAX)
  const signed = Buffer.concat([SIGNING_PREFIX, Buffer.from(buf.subarray(0, buf.byteLength - 64))])
  if (!verify(signed, s.signature, s.admin)) throw malformed('group state: bad signature')
  return s
}

function readGroupState(state: State): GroupState {
  const version = readU8(state, 'group state version')
  if (version !== GROUP_STATE_VERSION)
    throw new ParleyError('UNKNOWN_MESSAGE_TYPE', `group state version ${version} is not defined`)
  const admin = readFixed(state, 32, 'admin')
  const nonce = readFixed(state, GROUP_NONCE_BYTES, 'nonce')
  const seq = readUint(state, 'seq')
  const t = readFixed(state, 8, 'changed_at_ms').readBigUInt64LE()
  if (t > BigInt(TIME_MS_MAX)) throw malformed('changed_at_ms: above 2^53 - 1')
  const name = readString(state, 'name', GROUP_NAME_BYTES_MAX)
  if (name.trim() === '') throw malformed('name: empty')
  const count = readU8(state, 'member count')
  const members: Buffer[] = []
  for (let i = 0; i < count; i++) members.push(readFixed(state, 32, 'member'))
  const fields = { admin, nonce, seq, changedAtMs: Number(t), name, members }
  checkMembers(fields)
  return { ...fields, signature: readFixed(state, 64, 'signature') }
}
