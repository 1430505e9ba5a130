import { join } from 'node:path'
import { type DaemonProcess, spawnDaemon } from '../../daemon/spawn.js'
import { createKeystore, ensureHome, generateIdentity } from '../../identity/index.js'

interface Step {
  name: string
  ok: boolean
  detail: string
}

interface History {
  messages: { text: string; direction: string; delivered: boolean }[]
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until<T>(what: string, probe: () => Promise<T | null>, timeout_ms = 30_000) {
  const deadline = performance.now() + timeout_ms
  for (;;) {
    const v = await probe().catch(() => null)
    if (v !== null) return v
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/**
 * The demo's chat part: alice and bob become contacts and chat; bob goes
 * offline, alice writes (sealed into two supernode mailboxes), bob returns
 * and receives. Adds its steps and times to the report.
 */
export async function demoChat(opts: {
  root: string
  bootstrap: string
  ids: Record<string, string>
  daemons: DaemonProcess[]
  steps: Step[]
  report: Record<string, unknown>
}): Promise<void> {
  const { root, bootstrap, ids, daemons, steps, report } = opts
  const spawn = async (name: string, extra: string[] = []) => {
    const d = await spawnDaemon({
      home: join(root, name),
      args: ['--bootstrap', bootstrap, '--port', '0', ...extra],
    })
    daemons.push(d)
    return d
  }
  for (const name of ['mailbox1', 'mailbox2']) {
    await ensureHome(join(root, name))
    const keys = generateIdentity({ name, deviceName: 'demo', now_ms: Date.now() })
    await createKeystore(join(root, name), keys, null)
  }
  const boxes = await Promise.all(['mailbox1', 'mailbox2'].map((n) => spawn(n, ['--supernode'])))
  const alice = daemons[0]!
  let bob = daemons[1]!
  const history = (d: DaemonProcess, contact: string) =>
    d.client.request<History>('POST', '/v1/chat/history', { contact })

  let t = performance.now()
  await alice.client.request('POST', '/v1/contacts/add', { id: ids.bob, note: 'hi, alice here' })
  await until('the request', async () => {
    const r = await bob.client.request<{ contacts: { state: string }[] }>('GET', '/v1/contacts')
    return r.contacts[0]?.state === 'incoming' ? true : null
  })
  await bob.client.request('POST', '/v1/contacts/accept', { id: ids.alice })
  await until('the accept', async () => {
    const r = await alice.client.request<{ contacts: { state: string }[] }>('GET', '/v1/contacts')
    return r.contacts[0]?.state === 'accepted' ? true : null
  })
  report.contact_ms = Math.round(performance.now() - t)
  steps.push({
    name: 'alice asks bob to be contacts, bob accepts',
    ok: true,
    detail: `${report.contact_ms} ms`,
  })

  t = performance.now()
  await alice.client.request('POST', '/v1/chat/send', { contact: ids.bob, text: 'hi bob!' })
  await until('the message', async () =>
    (await history(bob, ids.alice!)).messages.some((m) => m.text === 'hi bob!') ? true : null,
  )
  report.chat_ms = Math.round(performance.now() - t)
  await until('the delivery receipt', async () =>
    (await history(alice, ids.bob!)).messages.every((m) => m.delivered) ? true : null,
  )
  steps.push({
    name: 'alice writes, bob reads',
    ok: true,
    detail: `${report.chat_ms} ms, ✓ delivered`,
  })

  await bob.stop()
  // bob keeps his place in `daemons`: later demo steps take daemons[1] as bob.
  const bobAt = daemons.indexOf(bob)
  const offline = ['are you there?', 'call me when you are back']
  t = performance.now()
  for (const text of offline)
    await alice.client.request('POST', '/v1/chat/send', { contact: ids.bob, text })
  await until('the mailboxes', async () => {
    const counts = await Promise.all(
      boxes.map((b) => b.client.request<{ mailbox: { blobs: number } }>('GET', '/v1/status')),
    )
    return counts.every((c) => c.mailbox.blobs >= offline.length) ? true : null
  })
  report.mailboxed_ms = Math.round(performance.now() - t)
  steps.push({
    name: 'bob goes offline; alice writes',
    ok: true,
    detail: `${offline.length} messages sealed to bob in 2 mailboxes after ${report.mailboxed_ms} ms`,
  })

  t = performance.now()
  bob = await spawn('bob')
  daemons.splice(daemons.indexOf(bob), 1)
  daemons[bobAt] = bob
  const got = await until('the offline messages', async () => {
    const h = await history(bob, ids.alice!)
    return offline.every((x) => h.messages.some((m) => m.text === x)) ? h : null
  })
  report.offline_delivery_ms = Math.round(performance.now() - t)
  const inOrder =
    got.messages
      .map((m) => m.text)
      .slice(-offline.length)
      .join('|') === offline.join('|')
  steps.push({
    name: 'bob comes back and receives them',
    ok: inOrder,
    detail: `${report.offline_delivery_ms} ms from starting bob's daemon${inOrder ? ', in order' : ', OUT OF ORDER'}`,
  })
}
