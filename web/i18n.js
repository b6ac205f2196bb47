// firstline: the pages' words, dates and times. Every visible string comes from one message
// catalogue per language (web/i18n/<lang>/*.json, each file a flat object of keys); `t(key, vars)`
// looks it up in the chosen language. A key missing from that language is never shown as English:
// it renders as ⟦key⟧ and is recorded in `window.firstlineMissingKeys` (the tests fail on it).
// Dates and times are shown in the helpdesk's time zone (`[desk] time_zone`), in the language's
// locale.

/** The languages the pages speak, with their locale for dates and numbers. */
export const LANGUAGES = { nl: 'nl-NL', en: 'en-GB' };
const STORE_KEY = 'firstline.language';

const state = {
  lang: 'en',
  messages: {},
  timeZone: 'Europe/Amsterdam',
  plural: new Intl.PluralRules('en-GB'),
};
const missing = new Set();
if (typeof window !== 'undefined') window.firstlineMissingKeys = missing;

/**
 * The language to show: the agent's own choice, else this browser's last choice, else the first
 * of the browser's languages that we speak, else English.
 */
export function chooseLanguage(agentChoice) {
  if (agentChoice && LANGUAGES[agentChoice]) return agentChoice;
  const stored = localStorage.getItem(STORE_KEY);
  if (stored && LANGUAGES[stored]) return stored;
  for (const l of navigator.languages || [navigator.language || '']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (LANGUAGES[base]) return base;
  }
  return 'en';
}

/** Loads `parts` (e.g. ['common', 'desk']) of `lang`'s catalogue; resolves when they are in. */
export async function loadLanguage(lang, parts) {
  const chosen = LANGUAGES[lang] ? lang : 'en';
  const loaded = await Promise.all(parts.map(async (p) => {
    const r = await fetch(`/i18n/${chosen}/${p}.json`, { credentials: 'same-origin' });
    if (!r.ok) throw new Error(`catalogue ${chosen}/${p}: status ${r.status}`);
    return r.json();
  }));
  state.lang = chosen;
  state.messages = Object.assign({}, ...loaded);
  state.plural = new Intl.PluralRules(LANGUAGES[chosen]);
  localStorage.setItem(STORE_KEY, chosen);
  document.documentElement.lang = chosen;
  return chosen;
}

/** The language now shown. */
export const language = () => state.lang;

/** Sets the zone dates and times are shown in (an IANA name the browser knows). */
export function setTimeZone(zone) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    state.timeZone = zone;
  } catch (_) {
    // An unknown zone keeps the previous one.
  }
}

/**
 * The message `key` with `{name}` placeholders filled from `vars`. With `vars.count`, the key
 * `key.one` / `key.other` (by the language's plural rules) is used when present.
 */
export function t(key, vars = {}) {
  let msg = state.messages[key];
  if (msg === undefined && typeof vars.count === 'number') {
    msg = state.messages[`${key}.${state.plural.select(vars.count)}`] ?? state.messages[`${key}.other`];
  }
  if (msg === undefined) {
    missing.add(key);
    return `⟦${key}⟧`;
  }
  return msg.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name] ?? '') : m));
}

/** Whether the catalogue has `key` (for optional messages such as known server reasons). */
export const has = (key) => key in state.messages;

function format(ms, options) {
  if (ms === null || ms === undefined || ms === '') return '';
  return new Intl.DateTimeFormat(LANGUAGES[state.lang], { timeZone: state.timeZone, ...options })
    .format(new Date(Number(ms)));
}

/** Date and time, e.g. "1 dec. 2026 14:05". */
export const fmtDateTime = (ms) => format(ms, { dateStyle: 'medium', timeStyle: 'short' });
/** Time of day, e.g. "14:05". */
export const fmtTime = (ms) => format(ms, { timeStyle: 'short' });
/** The calendar day, e.g. "2026-12-01", in the helpdesk's zone. */
export function isoDay(ms) {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: state.timeZone, year: 'numeric', month: '2-digit', day: '2-digit',
  }).formatToParts(new Date(Number(ms)));
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** A duration as m:ss (h:mm:ss from an hour). */
export function fmtDuration(ms) {
  const s = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const h = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** A number in the language's locale (e.g. 0,8 in Dutch). */
export const fmtNumber = (n, options = {}) => new Intl.NumberFormat(LANGUAGES[state.lang], options).format(n);

/** Fills every `[data-i18n]` element under `root` with its message (static page text). */
export function applyTranslations(root = document) {
  for (const e of root.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
}
