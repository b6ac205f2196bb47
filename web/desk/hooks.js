// firstline desk: small view hooks. `useNow` re-renders a timer every second; `useApi` reads a
// REST resource (GET) and keeps the last answer, again when its URL or `rev` changes; `useLater`
// runs a function once typing pauses (autosave).

import { api, useEffect, useRef, useState } from '../ui.js';
import { serverNow } from './store.js';

/** The server's time, refreshed every `ms` while the component is shown. */
export function useNow(ms = 1000) {
  const [now, setNow] = useState(serverNow());
  useEffect(() => {
    const id = setInterval(() => setNow(serverNow()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

/**
 * GET `url` (null: nothing to read). `{ data, error, loading, headers, reload }`; a newer request
 * wins over an older one still on its way.
 */
export function useApi(url, rev = 0) {
  const [res, setRes] = useState({ data: null, error: null, loading: !!url, headers: null });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    if (!url) {
      setRes({ data: null, error: null, loading: false, headers: null });
      return;
    }
    const mine = ++seq.current;
    setRes((r) => ({ ...r, loading: true, error: null }));
    api('GET', url).then(
      ({ json, headers }) => { if (mine === seq.current) setRes({ data: json, error: null, loading: false, headers }); },
      (error) => { if (mine === seq.current) setRes({ data: null, error, loading: false, headers: null }); },
    );
  }, [url, rev, tick]);
  return { ...res, reload: () => setTick((x) => x + 1) };
}

/**
 * `schedule()` runs `fn` after `ms` without a further call; `flush()` runs it now if one is
 * pending. A pending run is flushed when the component goes away (its intake is no longer shown).
 */
export function useLater(fn, ms) {
  const timer = useRef(null);
  const latest = useRef(fn);
  latest.current = fn;
  const flush = () => {
    if (timer.current === null) return;
    clearTimeout(timer.current);
    timer.current = null;
    latest.current();
  };
  const schedule = () => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      timer.current = null;
      latest.current();
    }, ms);
  };
  useEffect(() => flush, []);
  return { schedule, flush, pending: () => timer.current !== null };
}
