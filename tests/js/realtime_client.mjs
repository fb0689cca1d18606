// Drives the official @supabase/realtime-js client (vsn 2.0.0: array frames, binary user
// broadcasts) against a leadtrail server. Reads LT_URL and LT_KEY; prints one JSON object per
// line on stdout; exits once it has seen LT_EXPECT postgres changes and both broadcasts.
import { RealtimeClient } from '@supabase/realtime-js'
import WebSocket from 'ws'

const url = process.env.LT_URL
const expected = Number(process.env.LT_EXPECT || '2')
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

const client = new RealtimeClient(url, {
  params: { apikey: process.env.LT_KEY },
  vsn: '2.0.0',
  transport: WebSocket,
  heartbeatIntervalMs: 5000,
})
let changes = 0
let broadcasts = 0
const maybeDone = () => {
  if (changes >= expected && broadcasts >= 2) {
    out({ kind: 'done', vsn: client.vsn })
    client.disconnect()
    process.exit(0)
  }
}

const channel = client.channel('js-feed', { config: { broadcast: { self: true, ack: true } } })
channel
  .on(
    'postgres_changes',
    { event: 'INSERT', schema: 'public', table: 'events', filter: 'event_action=eq.from-js-test' },
    (payload) => {
      changes += 1
      out({ kind: 'change', table: payload.table, eventType: payload.eventType, new: payload.new })
      maybeDone()
    }
  )
  .on('broadcast', { event: 'bin' }, (message) => {
    broadcasts += 1
    out({ kind: 'broadcast', event: message.event, bytes: Array.from(new Uint8Array(message.payload)) })
    maybeDone()
  })
  .on('broadcast', { event: 'json' }, (message) => {
    broadcasts += 1
    out({ kind: 'broadcast', event: message.event, payload: message.payload })
    maybeDone()
  })
  .on('system', {}, (payload) => {
    out({ kind: 'system', message: payload.message, status: payload.status })
    if (payload.message === 'Subscribed to PostgreSQL') {
      const bytes = new Uint8Array([0, 1, 2, 250]).buffer
      channel.send({ type: 'broadcast', event: 'bin', payload: bytes }).then((r) => out({ kind: 'ack', r }))
      channel.send({ type: 'broadcast', event: 'json', payload: { hello: 'js' } })
    }
  })
  .subscribe((status, err) => out({ kind: 'status', status, error: err ? String(err) : null }))

setTimeout(() => {
  out({ kind: 'timeout', changes, broadcasts })
  process.exit(1)
}, Number(process.env.LT_TIMEOUT_MS || '30000'))
