// firstline: DOM helpers shared by the desk and supervisor pages. Every value goes into the page
// as text (createElement / textContent), never parsed as HTML.

export const $ = (id) => document.getElementById(id);

/** An element with attributes and children; strings become text nodes (never parsed). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'onclick') e.addEventListener('click', v);
    else if (k === 'testid') e.dataset.testid = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** The text of element `id`; an empty value shows as a dash. */
export function setText(id, value) {
  $(id).textContent = value === null || value === undefined || value === '' ? '–' : String(value);
}

/** The page's error banner (`#error-msg`); an empty message hides it. */
export function showError(message) {
  const box = $('error-msg');
  box.textContent = message;
  box.hidden = !message;
}
