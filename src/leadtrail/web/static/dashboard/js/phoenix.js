// A small Phoenix channels client (serializer vsn 1.0.0: JSON objects), enough for the
// Supabase Realtime protocol leadtrail serves at /realtime/v1/websocket. The browser sends
// the dashboard's session cookie with the handshake, so no API key is needed.

const HEARTBEAT_MS = 25000;
const BACKOFF_MS = [500, 1000, 2000, 5000, 10000];

export class Socket {
  constructor(endpoint, { onState } = {}) {
    this.endpoint = endpoint;
    this.onState = onState || (() => {});
    this.channels = new Set();
    this.ref = 0;
    this.tries = 0;
    this.closedByUs = false;
    this.ws = null;
  }

  makeRef() {
    this.ref += 1;
    return String(this.ref);
  }

  connect() {
    this.closedByUs = false;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${window.location.host}${this.endpoint}?vsn=1.0.0`);
    this.ws = ws;
    this.onState("connecting");
    ws.onopen = () => {
      this.tries = 0;
      this.onState("open");
      this.heartbeat = setInterval(() => this.push({ topic: "phoenix", event: "heartbeat", payload: {} }), HEARTBEAT_MS);
      this.channels.forEach((ch) => ch.rejoin());
    };
    ws.onmessage = (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      this.channels.forEach((ch) => {
        if (ch.topic === msg.topic) ch.dispatch(msg);
      });
    };
    ws.onclose = () => {
      clearInterval(this.heartbeat);
      this.channels.forEach((ch) => ch.reset());
      if (this.closedByUs) return;
      this.onState("closed");
      const wait = BACKOFF_MS[Math.min(this.tries, BACKOFF_MS.length - 1)];
      this.tries += 1;
      this.reconnect = setTimeout(() => this.connect(), wait);
    };
    ws.onerror = () => {}; // onclose follows and reconnects
  }

  disconnect() {
    this.closedByUs = true;
    clearTimeout(this.reconnect);
    clearInterval(this.heartbeat);
    if (this.ws) this.ws.close(1000);
  }

  isOpen() {
    return this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  push(message) {
    if (!this.isOpen()) return false;
    this.ws.send(JSON.stringify({ ref: this.makeRef(), ...message }));
    return true;
  }

  channel(topic, params) {
    const ch = new Channel(this, topic, params);
    this.channels.add(ch);
    return ch;
  }

  remove(ch) {
    this.channels.delete(ch);
  }
}

export class Channel {
  constructor(socket, topic, params) {
    this.socket = socket;
    this.topic = topic;
    this.params = params;
    this.handlers = new Map();
    this.joinRef = null;
    this.state = "closed";
  }

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(fn);
    return this;
  }

  join() {
    this.wanted = true;
    if (this.socket.isOpen()) this.rejoin();
    return this;
  }

  rejoin() {
    if (!this.wanted) return;
    this.joinRef = this.socket.makeRef();
    this.state = "joining";
    this.socket.ws.send(JSON.stringify({
      topic: this.topic, event: "phx_join", payload: this.params, ref: this.joinRef, join_ref: this.joinRef,
    }));
  }

  reset() {
    this.state = "closed";
  }

  leave() {
    this.wanted = false;
    if (this.state !== "closed") {
      this.socket.push({ topic: this.topic, event: "phx_leave", payload: {}, join_ref: this.joinRef });
    }
    this.state = "closed";
    this.socket.remove(this);
  }

  dispatch(msg) {
    if (msg.event === "phx_reply" && msg.ref === this.joinRef) {
      this.state = msg.payload && msg.payload.status === "ok" ? "joined" : "errored";
      this.emit("join", msg.payload);
      return;
    }
    if (msg.event === "phx_error" || msg.event === "phx_close") this.state = "closed";
    this.emit(msg.event, msg.payload);
  }

  emit(event, payload) {
    (this.handlers.get(event) || []).forEach((fn) => fn(payload));
  }
}

/**
 * Subscribes to postgres_changes on one table of one site; calls onChange(type, record,
 * old) per change and onLive() each time the subscription becomes live (after the first
 * join and after every reconnect): rows committed before that moment may have been missed,
 * so callers read the current state again then.
 */
export function watchTable(socket, { name, table, event = "*", siteId, onChange, onLive }) {
  const channel = socket.channel(`realtime:${name}`, {
    config: {
      broadcast: { self: false, ack: false },
      presence: { key: "" },
      postgres_changes: [{ event, schema: "public", table, filter: `site_id=eq.${siteId}` }],
    },
  });
  channel.on("postgres_changes", (payload) => {
    const data = (payload && payload.data) || payload || {};
    onChange(data.type || data.eventType, data.record || data.new || {}, data.old_record || data.old || {});
  });
  channel.on("system", (payload) => {
    if (payload && payload.extension === "postgres_changes" && payload.status === "ok" && onLive) onLive();
  });
  channel.join();
  return channel;
}

/** Resolves when every one of `count` subscriptions has reported live once. */
export function allLive(count, fn) {
  let left = count;
  return () => {
    left -= 1;
    if (left === 0) fn();
    else if (left < 0) fn(); // a reconnect: refill again
  };
}
