/**
 * The situation page's markup. The page's settings (limits, names, the tile grid) travel inside it
 * as a JSON data block, which the Content-Security-Policy lets through because it never runs; the
 * script and the style are files of their own (/page/situation.js, /page/situation.css).
 */
export function pageHtml(settings: unknown): string {
  // `<` escaped, so that no value can close the data block.
  const json = JSON.stringify(settings).replace(/</g, '\\u003c')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Qalqan</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/page/situation.css">
<script id="qalqan-settings" type="application/json">${json}</script>
<script src="/page/situation.js" defer></script>
</head>
<body data-state="loading">
<header class="top">
  <h1 data-i18n="heading">Qalqan</h1>
  <nav class="languages" id="languages" aria-label="Language"></nav>
  <button type="button" id="sign-out" class="quiet" data-i18n="signOut" hidden>Sign out</button>
</header>

<section id="signin" class="signin" aria-labelledby="signin-heading" hidden>
  <h2 id="signin-heading" data-i18n="signInHeading">Sign in</h2>
  <form id="signin-form" novalidate>
    <label for="token" data-i18n="tokenLabel">Analyst token</label>
    <input id="token" name="token" type="password" autocomplete="off" spellcheck="false">
    <button type="submit" data-i18n="signIn">Sign in</button>
  </form>
  <p id="signin-message" class="error" role="alert" hidden></p>
  <p class="hint" data-i18n="tokenKept"></p>
</section>

<main id="board" hidden>
  <form id="controls" class="controls">
    <label><span data-i18n="range">Time range</span> <select id="f-range" name="range"></select></label>
    <label><span data-i18n="sector">Sector</span> <select id="f-sector" name="sector"></select></label>
    <label><span data-i18n="region">Region</span> <select id="f-region" name="region"></select></label>
    <label><span data-i18n="category">Attack type</span> <select id="f-category" name="category"></select></label>
    <label><span data-i18n="severity">Severity</span> <select id="f-severity" name="severity"></select></label>
    <label><span data-i18n="srcCountry">Source country</span> <select id="f-src_country" name="src_country"></select></label>
    <button type="button" id="clear" class="quiet" data-i18n="clear">Clear filters</button>
  </form>
  <p id="error" class="error" role="alert" hidden></p>
  <div id="status" class="status" role="status" aria-live="polite"><p id="updated"></p><ul id="notes"></ul></div>

  <section class="cards" aria-label="Totals">
    <div class="card"><h2 data-i18n="attacks">Attacks</h2><p class="big" id="total"></p><p id="total-change" class="sub"></p></div>
    <div class="card"><h2 data-i18n="sources">Distinct sources</h2><p class="big" id="sources"></p><p id="sources-change" class="sub"></p></div>
    <div class="card"><h2 data-i18n="perMinute">Attacks per minute</h2><p class="big" id="per-minute"></p><p id="per-minute-when" class="sub"></p><p id="this-minute" class="sub"></p></div>
  </section>

  <div class="panels">
    <section class="panel map-panel" aria-labelledby="map-heading">
      <h2 id="map-heading" data-i18n="mapHeading">Regions</h2>
      <p class="hint" data-i18n="mapHint"></p>
      <div id="map"></div>
      <div id="legend" class="legend" aria-hidden="true"></div>
      <p id="region-details" class="details" aria-live="polite"></p>
    </section>
    <section class="panel" aria-labelledby="sectors-heading">
      <h2 id="sectors-heading" data-i18n="sectorsHeading">Attacks by sector</h2>
      <ul id="sectors" class="bars"></ul>
    </section>
    <section class="panel" aria-labelledby="countries-heading">
      <h2 id="countries-heading" data-i18n="countriesHeading">Top source countries</h2>
      <ol id="countries" class="bars"></ol>
    </section>
  </div>
</main>
</body>
</html>
`
}
