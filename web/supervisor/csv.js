// firstline supervisor: the CSV exports (GET /api/export/*.csv, docs/api.md). The file is fetched
// first (a refusal shows as a message, not as a downloaded error page), its records counted
// (RFC 4180: a quoted field may hold line breaks), then handed to the browser as a download.

/**
 * The number of records in RFC 4180 text (CRLF or LF line ends; quotes doubled inside quoted
 * fields), the header line included. A last record without a line end counts.
 */
export function countRecords(text) {
  let records = 0;
  let quoted = false;
  let pending = false; // characters since the last record end
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') i += 1; else quoted = false;
      }
    } else if (ch === '"') {
      quoted = true;
      pending = true;
    } else if (ch === '\n') {
      records += 1;
      pending = false;
    } else if (ch !== '\r') {
      pending = true;
    }
  }
  return records + (pending ? 1 : 0);
}

/** The file name of a `Content-Disposition: attachment; filename="…"` header, or null. */
export function fileName(disposition) {
  const m = /filename="([^"]+)"/.exec(disposition || '');
  return m ? m[1] : null;
}

/**
 * Downloads `url` (same origin, session cookie): resolves to `{ name, rows }` (data rows, the
 * header not counted) once the browser was handed the file; throws the server's message.
 */
export async function downloadCsv(url, fallbackName) {
  const r = await fetch(url, { credentials: 'same-origin' });
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    throw new Error(body.error || `status ${r.status}`);
  }
  const blob = await r.blob();
  const text = await blob.text();
  const name = fileName(r.headers.get('Content-Disposition')) || fallbackName;
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  a.hidden = true;
  a.dataset.testid = 'export-link';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60000);
  return { name, rows: Math.max(0, countRecords(text) - 1) };
}
