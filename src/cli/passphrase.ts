import { ParleyError } from '../util/errors.js'

// The passphrase comes from PARLEY_PASSPHRASE (scripts, services) or a hidden
// prompt on a terminal. Never from a flag: flags end up in shell history and `ps`.

export async function obtainPassphrase(opts: {
  confirm: boolean
  purpose: string
}): Promise<string> {
  const env = process.env.PARLEY_PASSPHRASE
  if (env !== undefined && env !== '') return env
  if (!process.stdin.isTTY) {
    throw new ParleyError(
      'PASSPHRASE_REQUIRED',
      `a passphrase is needed to ${opts.purpose}: set PARLEY_PASSPHRASE or run this in a terminal`,
    )
  }
  const first = await promptHidden('Passphrase: ')
  if (first === '') {
    throw new ParleyError(
      'PASSPHRASE_REQUIRED',
      'an empty passphrase is not allowed (use --no-passphrase at init to store keys unencrypted)',
    )
  }
  if (opts.confirm && (await promptHidden('Repeat passphrase: ')) !== first) {
    throw new ParleyError('USAGE', 'the passphrases did not match; nothing was written')
  }
  return first
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin
    process.stderr.write(prompt)
    stdin.setRawMode(true)
    stdin.resume()
    let text = ''
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null)
        if (ch === '\u0003') return done(new ParleyError('USAGE', 'cancelled'))
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1)
        else text += ch
      }
    }
    const done = (err: Error | null) => {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write('\n')
      if (err) reject(err)
      else resolve(text)
    }
    stdin.on('data', onData)
  })
}
