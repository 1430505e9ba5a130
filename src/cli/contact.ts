import { decodeId, encodeId } from '../identity/index.js'
import { ParleyError } from '../util/errors.js'

/**
 * CONTACT on the command line → a Parley ID. Today only IDs; the contact
 * list (issue 4) plugs names in here, and every command that takes CONTACT
 * goes through this one function.
 */
export async function resolveContact(_home: string, contact: string): Promise<string> {
  try {
    return encodeId(decodeId(contact))
  } catch (err) {
    throw new ParleyError(
      'USAGE',
      `"${contact}" is not a Parley ID (${(err as Error).message}); contacts by name are not supported yet, give the ID`,
    )
  }
}
