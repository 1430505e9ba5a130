// File names from the network (docs/PROTOCOL.md §8.5). A name is a single
// path component that is safe to create on Linux, macOS and Windows; anything
// else is refused (DECLINE BadName), never silently rewritten, so the sender
// is told and nothing lands where the receiver did not expect.

import { NAME_BYTES_MAX, PATH_BYTES_MAX, PATH_COMPONENTS_MAX } from './constants.js'

const WINDOWS_DEVICES = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i
// The characters Windows forbids, and both slashes (controls are checked by code point).
const FORBIDDEN = /[<>:"|?*/\\]/u

/** C0 and C1 control characters and DEL. */
function hasControl(name: string): boolean {
  for (const ch of name) {
    const cp = ch.codePointAt(0)!
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return true
  }
  return false
}
// Bidirectional overrides and isolates make "gpj.exe" display as "exe.jpg".
const BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/u

/** Returns why `name` is not acceptable as a file name, or null when it is. */
export function nameProblem(name: string): string | null {
  if (name.length === 0) return 'the name is empty'
  if (Buffer.byteLength(name, 'utf8') > NAME_BYTES_MAX)
    return `the name is over ${NAME_BYTES_MAX} bytes`
  if (name === '.' || name === '..') return 'the name is a directory reference'
  if (FORBIDDEN.test(name) || hasControl(name)) {
    return 'the name contains a path separator, a control character or one of < > : " | ? *'
  }
  if (BIDI.test(name)) return 'the name contains bidirectional-text control characters'
  if (/[ .]$/.test(name)) return 'the name ends with a space or a dot'
  if (name.trim() !== name || name.trim().length === 0) return 'the name starts with white space'
  const stem = name.split('.')[0]!
  if (WINDOWS_DEVICES.test(stem.trimEnd())) return 'the name is a Windows device name'
  return null
}

/**
 * Returns why an OFFER name is not acceptable, or null. A name without `/`
 * is one file name (nameProblem); with `/` it is a relative path of a file
 * in a folder, `top/sub/file.txt`: at most PATH_BYTES_MAX bytes and
 * PATH_COMPONENTS_MAX components, every one of them a valid file name, so
 * no empty component (`a//b`, a leading or trailing `/`), no `.` or `..`.
 */
export function pathProblem(name: string): string | null {
  if (!name.includes('/')) return nameProblem(name)
  if (Buffer.byteLength(name, 'utf8') > PATH_BYTES_MAX)
    return `the path is over ${PATH_BYTES_MAX} bytes`
  const parts = name.split('/')
  if (parts.length > PATH_COMPONENTS_MAX)
    return `the path is over ${PATH_COMPONENTS_MAX} folders deep`
  for (const part of parts) {
    const problem = nameProblem(part)
    if (problem !== null) return `"${part.slice(0, 64)}" in the path: ${problem}`
  }
  return null
}

/** The top folder of a relative-path name (`top` of `top/sub/file.txt`), or null for a plain name. */
export function folderOf(name: string): string | null {
  const slash = name.indexOf('/')
  return slash < 0 ? null : name.slice(0, slash)
}

/**
 * `name`, `name (1).ext`, `name (2).ext`, … for the n-th free slot at the
 * destination; in a relative path only the file (the last component) is numbered.
 */
export function numberedName(path: string, n: number): string {
  if (n === 0) return path
  const slash = path.lastIndexOf('/')
  const folder = path.slice(0, slash + 1)
  const name = path.slice(slash + 1)
  const dot = name.lastIndexOf('.')
  const hasExt = dot > 0
  const stem = hasExt ? name.slice(0, dot) : name
  const ext = hasExt ? name.slice(dot) : ''
  return `${folder}${stem} (${n})${ext}`
}
