// firstline: a page's live feed, shared by the desk and the supervisor view. One WebSocket that
// says hello (with the page's resume point), hands on every frame that parses to a JSON object,
// reports the connection ('connecting', 'live', 'offline'), and reconnects after 0.5 s, doubling
// up to 5 s.

/**
 * Opens the WebSocket at `path` (e.g. '/api/ws') and keeps it open.
 * - `onStatus(kind)`: 'connecting' at every (re)connect, 'live' on `welcome`, 'offline' when closed.
 * - `hello()`: the hello's `{ epoch, last_seq }`, asked at every (re)connect.
 * - `onFrame(frame)`: every frame that parses to an object, in order.
 * Returns `{ open, send(frame) }`: `open` is true while the socket can send; `send` sends a frame
 * as JSON.
 */
export function openFeed({ path, onStatus, hello, onFrame }) {
  let ws = null;
  let retryMs = 500;

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${scheme}://${location.host}${path}`);
    onStatus('connecting');
    ws.addEventListener('open', () => {
      retryMs = 500;
      ws.send(JSON.stringify({ v: 1, type: 'hello', ...hello() }));
    });
    ws.addEventListener('message', (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      if (!frame || typeof frame !== 'object') return;
      if (frame.type === 'welcome') {
        onStatus('live');
      }
      onFrame(frame);
    });
    ws.addEventListener('close', () => {
      onStatus('offline');
      // A closed socket may mean the session expired: the API answers 401 then.
      fetch('/api/me', { credentials: 'same-origin' }).then((r) => {
        if (r.status === 401) location.assign('/');
      }).catch(() => {});
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    });
  }

  connect();
  return {
    get open() {
      return ws !== null && ws.readyState === WebSocket.OPEN;
    },
    send(frame) {
      ws.send(JSON.stringify(frame));
    },
  };
}
