// firstline supervisor: simple charts for the reports, drawn as inline SVG from the figures (no
// chart library): one horizontal stacked bar per row, scaled to the largest row, with the row's
// label before it and its total after it. Colours are classes (`.seg-*` in supervisor.css),
// each at least 3:1 against the panel (WCAG 1.4.11); the tables beside the charts carry the
// same numbers as text.

import { html } from '../ui.js';

const W = 640; // viewBox width
const LABEL = 150; // label column
const VALUE = 70; // total column
const ROW = 24;
const BAR = 16;

/**
 * `rows`: `[{ key, label, total?, segments: [{ key, value, label }] }]`; `format(v)` writes a
 * value (the total and the tooltips); `legend`: `[{ key, label }]` in segment order.
 */
export function StackedBars({ rows, format, legend, title, testid }) {
  const totals = rows.map((r) => r.segments.reduce((s, g) => s + Math.max(0, g.value || 0), 0));
  const max = Math.max(1, ...totals);
  const span = W - LABEL - VALUE;
  const height = Math.max(1, rows.length) * ROW + 4;
  return html`
    <figure class="chart" data-testid=${testid}>
      <svg viewBox=${`0 0 ${W} ${height}`} width="100%" role="img" aria-label=${title}
        preserveAspectRatio="xMinYMin meet">
        ${rows.map((r, i) => {
          let x = LABEL;
          const y = i * ROW + 4;
          return html`
            <g key=${r.key} data-row=${r.key}>
              <text x=${LABEL - 8} y=${y + BAR - 3} text-anchor="end" class="chart-label">${r.label}</text>
              ${r.segments.map((g) => {
                const w = (Math.max(0, g.value || 0) / max) * span;
                const rect = html`
                  <rect x=${x} y=${y} width=${w} height=${BAR} class=${`seg seg-${g.key}`} data-value=${g.value}>
                    <title>${`${r.label} · ${g.label}: ${format(g.value)}`}</title>
                  </rect>`;
                x += w;
                return w > 0 ? rect : null;
              })}
              <text x=${x + 6} y=${y + BAR - 3} class="chart-value">${format(r.total ?? totals[i])}</text>
            </g>`;
        })}
      </svg>
      <figcaption class="legend">
        ${legend.map((l) => html`<span class="legend-item"><span class=${`swatch seg-${l.key}`}></span>${l.label}</span>`)}
      </figcaption>
    </figure>`;
}
