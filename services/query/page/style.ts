/**
 * The situation page's style. Text colours are chosen for a contrast of at least 4.5:1 on their
 * background (WCAG AA); the page's test measures them.
 */
export const STYLE = `
:root {
  --text: #1b1f24;
  --muted: #4a5360;
  --background: #ffffff;
  --panel: #f6f7f9;
  --line: #d5dae1;
  --accent: #0b57d0;
  --error-text: #8a1c1c;
  --error-background: #fdecec;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color: var(--text);
  background: var(--background);
}
* { box-sizing: border-box; }
body { margin: 0; padding: 0 1rem 2rem; color: var(--text); background: var(--background); line-height: 1.4; }
h1 { font-size: 1.3rem; margin: 0; flex: 1; }
h2 { font-size: 1rem; margin: 0 0 0.5rem; }
.top { display: flex; align-items: center; gap: 1rem; padding: 0.75rem 0; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
.languages { display: flex; gap: 0.25rem; }
button, select, input { font: inherit; color: var(--text); }
button { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: 0.25rem 0.6rem; cursor: pointer; }
button[aria-pressed="true"] { background: var(--accent); border-color: var(--accent); color: #ffffff; }
button:focus-visible, select:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.quiet { background: var(--background); }
.signin { max-width: 28rem; margin: 3rem auto; padding: 1.5rem; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
.signin form { display: flex; flex-direction: column; gap: 0.5rem; }
.signin input { padding: 0.4rem; border: 1px solid var(--muted); border-radius: 4px; background: var(--background); }
.hint, .sub { color: var(--muted); font-size: 0.9rem; margin: 0.25rem 0; }
.error { color: var(--error-text); background: var(--error-background); border: 1px solid var(--error-text); border-radius: 4px; padding: 0.5rem 0.75rem; }
.controls { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: end; padding: 0.75rem 0; }
.controls label { display: flex; flex-direction: column; font-size: 0.85rem; color: var(--muted); }
.controls select { min-width: 9rem; padding: 0.25rem; background: var(--background); border: 1px solid var(--muted); border-radius: 4px; }
.status { color: var(--muted); font-size: 0.9rem; }
.status p { margin: 0; }
.status ul { margin: 0.25rem 0; padding-left: 1.2rem; }
.status li { color: var(--text); }
.badge { display: inline-block; margin-left: 0.4rem; padding: 0 0.35rem; font-size: 0.75rem; font-weight: 600; vertical-align: middle; color: #5c3b00; background: #fff1c2; border: 1px solid #a06a00; border-radius: 3px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr)); gap: 0.75rem; margin: 0.75rem 0; }
.card, .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 0.75rem 1rem; }
.big { font-size: 2rem; font-weight: 700; margin: 0; font-variant-numeric: tabular-nums; }
.up { color: #8a1c1c; }
.down { color: #1d5e2e; }
.panels { display: grid; grid-template-columns: minmax(22rem, 2fr) minmax(16rem, 1fr) minmax(14rem, 1fr); gap: 0.75rem; }
@media (max-width: 70rem) { .panels { grid-template-columns: 1fr; } }
#map svg { width: 100%; height: auto; display: block; }
.tile { cursor: pointer; }
.tile rect { stroke: #ffffff; stroke-width: 2; }
.tile:hover rect, .tile:focus rect { stroke: var(--accent); stroke-width: 4; }
.tile:focus { outline: none; }
.tile[aria-pressed="true"] rect { stroke: #1b1f24; stroke-width: 4; }
.tile text { pointer-events: none; font-size: 13px; }
.tile .count { font-size: 18px; font-weight: 700; }
.legend { display: flex; gap: 0.25rem; align-items: center; font-size: 0.8rem; color: var(--muted); margin-top: 0.5rem; flex-wrap: wrap; }
.legend span.swatch { display: inline-block; width: 1.2rem; height: 0.8rem; border: 1px solid var(--line); }
.details { min-height: 3rem; margin: 0.5rem 0 0; }
.bars { list-style: none; margin: 0; padding: 0; }
.bars li { margin: 0 0 0.4rem; }
.bars .row { width: 100%; border: 1px solid var(--line); border-radius: 4px; padding: 0.25rem 0.6rem; display: grid; grid-template-columns: 1fr auto; gap: 0.1rem 0.5rem; text-align: left; background: var(--background); }
.bars .bar { grid-column: 1 / span 2; height: 0.5rem; background: var(--line); border-radius: 2px; overflow: hidden; }
.bars .fill { display: block; height: 100%; background: #b23b0e; }
.bars .value { font-variant-numeric: tabular-nums; font-weight: 600; }
.empty { color: var(--muted); }
`
