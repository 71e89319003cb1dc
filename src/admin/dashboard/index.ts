// The live dashboard served at GET / by the admin listener: one self-contained page. Its markup,
// style and script are kept as files beside this one (page.html, page.css, browser/) and inlined
// into the bundle at build time (scripts/assets.mjs), so the page fetches nothing but /endpoints
// and works offline.
import markup from './page.html';
import style from './page.css';
import script from './browser/main.ts?script';

/** The markup's placeholders are comments, so page.html stays valid HTML on its own. */
export const DASHBOARD_HTML = markup.replace('/*STYLE*/', () => style).replace('/*SCRIPT*/', () => script);
