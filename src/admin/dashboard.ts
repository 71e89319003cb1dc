// The live dashboard served at GET / by the admin listener: one self-contained page (inline CSS
// and JS, nothing fetched but /endpoints, works offline, no build step). It polls /endpoints
// every second and computes calls/s per Pod from the difference between successive answers.
//
// Keep this file free of backticks and dollar-brace inside the page: it is one template literal.

export const DASHBOARD_HTML = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>grpc-web-gateway · live</title>
<link rel="icon" href="data:,">
<style>
  :root {
    --bg: #f4f6f8; --card: #ffffff; --line: #e4e7eb; --line2: #eef0f3;
    --text: #17202b; --muted: #687385; --faint: #9aa3b0;
    --accent: #3d5afe; --accent2: #7b8cff; --accent-bg: #eef1ff;
    --ok: #1f9d55; --ok-bg: #e6f6ec; --warn: #d97706; --warn-bg: #fff4e0;
    --err: #dc2f3c; --err-bg: #fdecee; --drain: #a3abb6;
  }
  * { box-sizing: border-box; }
  html, body { margin: 0; background: var(--bg); color: var(--text);
    font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
  .num, .mono { font-variant-numeric: tabular-nums; }
  .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
  header { background: #111827; color: #e8ecf3; padding: 14px 28px; display: flex; align-items: center; gap: 18px; }
  header h1 { font-size: 16px; font-weight: 600; margin: 0; letter-spacing: .2px; }
  header .ver { font-size: 12px; color: #aab3c2; border: 1px solid #374151; border-radius: 10px; padding: 1px 8px; }
  header .sp { flex: 1; }
  header .meta { font-size: 12.5px; color: #aab3c2; }
  header .meta b { color: #e8ecf3; font-weight: 600; }
  .live { display: inline-flex; align-items: center; gap: 7px; font-size: 12.5px; color: #aab3c2; }
  .live i { width: 8px; height: 8px; border-radius: 50%; background: #34d399; box-shadow: 0 0 0 0 rgba(52,211,153,.6); animation: pulse 2s infinite; }
  .live.down i { background: var(--err); animation: none; }
  .live.down { color: #fca5a5; }
  @keyframes pulse { 0% { box-shadow: 0 0 0 0 rgba(52,211,153,.55); } 70% { box-shadow: 0 0 0 7px rgba(52,211,153,0); } 100% { box-shadow: 0 0 0 0 rgba(52,211,153,0); } }
  main { max-width: 1280px; margin: 0 auto; padding: 22px 28px 40px; }
  .tiles { display: grid; grid-template-columns: 1.6fr 1fr 1fr 1fr; gap: 14px; margin-bottom: 22px; }
  .tile { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; position: relative; overflow: hidden; min-height: 86px; }
  .tile .k { font-size: 11.5px; text-transform: uppercase; letter-spacing: .7px; color: var(--muted); font-weight: 600; }
  .tile .v { font-size: 28px; font-weight: 650; margin-top: 4px; letter-spacing: -.3px; }
  .tile .v small { font-size: 13px; color: var(--muted); font-weight: 500; margin-left: 4px; letter-spacing: 0; }
  .tile .s { font-size: 12px; color: var(--muted); margin-top: 2px; }
  .tile svg { position: absolute; right: 12px; bottom: 10px; width: 55%; height: 52px; }
  .tile .v.bad { color: var(--err); }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; margin-bottom: 18px; overflow: hidden; }
  .card-h { display: flex; align-items: baseline; gap: 12px; padding: 14px 18px 12px; border-bottom: 1px solid var(--line2); flex-wrap: wrap; }
  .card-h h2 { font-size: 15px; margin: 0; font-weight: 650; word-break: break-all; }
  .tag { font-size: 11px; font-weight: 600; border-radius: 4px; padding: 1px 6px; background: var(--line2); color: var(--muted); text-transform: uppercase; letter-spacing: .4px; }
  .tag.dns { background: var(--accent-bg); color: var(--accent); }
  .card-h .facts { margin-left: auto; display: flex; gap: 18px; font-size: 12.5px; color: var(--muted); flex-wrap: wrap; }
  .card-h .facts b { color: var(--text); font-weight: 600; }
  .card-h .facts .bad b { color: var(--err); }
  .grid { display: grid; grid-template-columns: minmax(190px, 230px) minmax(160px, 1fr) 58px 78px 84px 74px 70px 68px; column-gap: 14px; align-items: center; }
  .cols { padding: 8px 18px 6px; font-size: 11px; text-transform: uppercase; letter-spacing: .6px; color: var(--faint); font-weight: 600; }
  .cols > div:nth-child(n+3), .row > div:nth-child(n+3) { text-align: right; }
  .rows { padding: 0 0 6px; }
  .row { padding: 7px 18px; border-top: 1px solid var(--line2); transition: opacity 2.4s ease, background-color 1.2s ease, max-height .6s ease 2.2s, padding .6s ease 2.2s;
    max-height: 60px; }
  .row:first-child { border-top: 0; }
  .addr { display: flex; align-items: center; gap: 8px; min-width: 0; }
  .addr .mono { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .dot { width: 9px; height: 9px; border-radius: 50%; background: var(--ok); flex: none; }
  .st { font-size: 10px; font-weight: 700; letter-spacing: .5px; border-radius: 4px; padding: 1px 5px; text-transform: uppercase; flex: none; display: none; }
  .track { position: relative; height: 18px; background: var(--line2); border-radius: 5px; overflow: hidden; }
  .bar { position: absolute; left: 0; top: 0; bottom: 0; width: 0; background: linear-gradient(90deg, var(--accent), var(--accent2)); border-radius: 5px; transition: width .8s cubic-bezier(.2,.7,.2,1); }
  .bar .errpart { position: absolute; right: 0; top: 0; bottom: 0; width: 0; background: var(--err); transition: width .8s ease; }
  .even { position: absolute; top: -2px; bottom: -2px; width: 0; border-left: 2px dashed rgba(23,32,43,.35); transition: left .8s ease; }
  .row .rate { font-weight: 650; }
  .row .err.bad { color: var(--err); font-weight: 650; }
  .muted { color: var(--faint); }
  /* states */
  .row.connecting .dot { background: var(--warn); }
  .row.connecting .st { display: inline-block; background: var(--warn-bg); color: var(--warn); }
  .row.failing .dot { background: var(--err); }
  .row.failing .st { display: inline-block; background: var(--err-bg); color: var(--err); }
  .row.idle .dot { background: var(--faint); }
  .row.idle .st { display: inline-block; background: var(--line2); color: var(--muted); }
  .row.new { background: var(--ok-bg); }
  .row.new .st { display: inline-block; background: var(--ok); color: #fff; }
  .row.draining { color: var(--muted); }
  .row.draining .dot { background: var(--drain); }
  .row.draining .st { display: inline-block; background: var(--line2); color: var(--muted); }
  .row.draining .bar { background: repeating-linear-gradient(-45deg, #b8bfc9 0 6px, #d5dae1 6px 12px); }
  .row.draining .track { background: repeating-linear-gradient(-45deg, #f1f3f5 0 6px, #e9ecef 6px 12px); }
  .row.unhealthy .dot { background: var(--err); }
  .row.unhealthy .st { display: inline-block; background: var(--err-bg); color: var(--err); }
  .row.gone { opacity: 0; max-height: 0; padding-top: 0; padding-bottom: 0; pointer-events: none; }
  .row.gone .st { display: inline-block; background: var(--err-bg); color: var(--err); }
  .empty { padding: 18px; color: var(--muted); font-size: 13px; }
  .events { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 18px; }
  .events h3 { margin: 0 0 6px; font-size: 11.5px; text-transform: uppercase; letter-spacing: .7px; color: var(--muted); }
  .events ol { list-style: none; margin: 0; padding: 0; font-size: 12.5px; }
  .events li { padding: 3px 0; display: flex; gap: 10px; align-items: baseline; }
  .events li .t { color: var(--faint); width: 64px; flex: none; }
  .events li .ic { width: 14px; text-align: center; font-weight: 700; flex: none; }
  .events li.add .ic { color: var(--ok); } .events li.drain .ic { color: var(--muted); } .events li.del .ic { color: var(--err); }
  .events li.state .ic { color: var(--warn); }
  .events .none { color: var(--faint); }
  footer { margin-top: 16px; font-size: 12px; color: var(--faint); text-align: center; }
  footer a { color: var(--muted); }
  .banner { display: none; background: var(--err-bg); color: var(--err); border: 1px solid #f6c4c9; border-radius: 8px; padding: 9px 14px; margin-bottom: 16px; font-size: 13px; }
  .banner.on { display: block; }
  @media (max-width: 980px) {
    .tiles { grid-template-columns: 1fr 1fr; }
    .grid { grid-template-columns: minmax(150px, 1fr) minmax(100px, 1.3fr) 50px 66px; }
    .grid > div:nth-child(n+5) { display: none; }
  }
</style>
</head>
<body>
<header>
  <h1>grpc-web-gateway</h1>
  <span class="ver" id="ver">…</span>
  <span class="meta">up <b id="uptime">…</b></span>
  <span class="sp"></span>
  <span class="meta" id="clock"></span>
  <span class="live" id="live"><i></i><span id="livetext">connecting…</span></span>
</header>
<main>
  <div class="banner" id="banner">The gateway is not answering: the figures below are from the last successful poll.</div>
  <section class="tiles">
    <div class="tile"><div class="k">Calls / s</div><div class="v num" id="t-rate">–</div><div class="s" id="t-total">&nbsp;</div><svg id="spark" viewBox="0 0 120 40" preserveAspectRatio="none" aria-hidden="true"></svg></div>
    <div class="tile"><div class="k">In flight</div><div class="v num" id="t-inflight">–</div><div class="s">calls in progress now</div></div>
    <div class="tile"><div class="k">Errors</div><div class="v num" id="t-err">–</div><div class="s" id="t-errs">non-OK calls, last 5 s</div></div>
    <div class="tile"><div class="k">Pods ready</div><div class="v num" id="t-pods">–</div><div class="s" id="t-podss">&nbsp;</div></div>
  </section>
  <div id="upstreams"></div>
  <section class="events"><h3>Pod events</h3><ol id="events"><li class="none">Watching for Pods joining, draining and leaving…</li></ol></section>
  <footer>Polls <a href="endpoints">/endpoints</a> every second · Prometheus: <a href="metrics">/metrics</a> · bars: each Pod's share of its upstream's calls over the last 5 s · dashed line: an even share</footer>
</main>
<script>
(function () {
  'use strict';
  var POLL_MS = 1000, WINDOW_MS = 5000, NEW_MS = 6000, GONE_MS = 3200, SPARK_POINTS = 60;
  var $ = function (id) { return document.getElementById(id); };
  var ups = {};          // upstream name -> { el, rows: { address -> pod }, order: [] }
  var totalHist = [];    // [{t, total, errors}]
  var spark = [];        // calls/s, newest last
  var events = [];
  var first = true, last = null, failing = 0;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmtRate(r) {
    if (!isFinite(r) || r <= 0) return '0';
    if (r < 10) return r.toFixed(1);
    return Math.round(r).toLocaleString('en-US');
  }
  function fmtInt(n) { return Number(n).toLocaleString('en-US'); }
  function fmtDur(s) {
    s = Math.max(0, Math.floor(s));
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), x = s % 60;
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm ' + x + 's';
    return x + 's';
  }
  function hhmmss(t) { var d = new Date(t); return d.toTimeString().slice(0, 8); }
  function windowRate(hist, now, key) {
    // hist: [{t, v...}] oldest first; rate over the samples inside the window
    var i = 0;
    while (i < hist.length - 1 && now - hist[i].t > WINDOW_MS + 200) i++;
    var a = hist[i], b = hist[hist.length - 1];
    if (!a || a === b || b.t <= a.t) return 0;
    return Math.max(0, (b[key] - a[key]) * 1000 / (b.t - a.t));
  }
  function trim(hist, now) { while (hist.length > 2 && now - hist[1].t > WINDOW_MS + 200) hist.shift(); }

  function logEvent(kind, icon, text, t) {
    events.unshift({ kind: kind, icon: icon, text: text, t: t });
    if (events.length > 8) events.length = 8;
    var ol = $('events'); ol.textContent = '';
    events.forEach(function (e) {
      var li = el('li', e.kind);
      li.appendChild(el('span', 't mono', hhmmss(e.t)));
      li.appendChild(el('span', 'ic', e.icon));
      li.appendChild(el('span', '', e.text));
      ol.appendChild(li);
    });
  }

  function makeUpstream(u) {
    var card = el('section', 'card');
    var h = el('div', 'card-h');
    var title = el('h2', 'mono', u.name);
    var kind = el('span', 'tag' + (u.kind === 'dns' ? ' dns' : ''), u.kind);
    var bal = el('span', 'tag', u.balancer);
    var facts = el('div', 'facts');
    h.appendChild(title); h.appendChild(kind); h.appendChild(bal); h.appendChild(facts);
    var cols = el('div', 'cols grid');
    ['Pod', 'Share of calls', 'Share', 'Calls/s', 'Calls', 'Errors', 'In flight', 'Age'].forEach(function (c) { cols.appendChild(el('div', '', c)); });
    var rows = el('div', 'rows');
    var empty = el('div', 'empty', 'No Pods yet.');
    card.appendChild(h); card.appendChild(cols); card.appendChild(rows); card.appendChild(empty);
    $('upstreams').appendChild(card);
    return { el: card, facts: facts, rowsEl: rows, empty: empty, rows: {}, seen: false };
  }

  function fact(parent, label, value, bad) {
    var s = el('span', bad ? 'bad' : '');
    s.appendChild(document.createTextNode(label + ' '));
    s.appendChild(el('b', 'num', value));
    parent.appendChild(s);
  }

  function makeRow(ue, e) {
    var row = el('div', 'row grid');
    var addr = el('div', 'addr');
    var dot = el('span', 'dot'), name = el('span', 'mono', e.address), st = el('span', 'st', '');
    addr.appendChild(dot); addr.appendChild(name); addr.appendChild(st);
    var trackCell = el('div', '');
    var track = el('div', 'track'), bar = el('div', 'bar'), errpart = el('div', 'errpart'), even = el('div', 'even');
    bar.appendChild(errpart); track.appendChild(bar); track.appendChild(even); trackCell.appendChild(track);
    var share = el('div', 'num', '–'), rate = el('div', 'num rate', '–'), calls = el('div', 'num', '0'),
        errs = el('div', 'num err', '0'), infl = el('div', 'num', '0'), age = el('div', 'num muted', '');
    [addr, trackCell, share, rate, calls, errs, infl, age].forEach(function (c) { row.appendChild(c); });
    row.title = e.address;
    return { el: row, st: st, bar: bar, errpart: errpart, even: even, share: share, rate: rate, calls: calls,
      errs: errs, infl: infl, age: age, hist: [], firstSeen: e.firstSeen, bornAt: 0, goneAt: 0, draining: false,
      state: e.state, data: e };
  }

  function render(view, now) {
    var g = view.gateway;
    $('ver').textContent = 'v' + g.version;
    $('uptime').textContent = fmtDur(g.uptimeSeconds);
    $('clock').textContent = hhmmss(now);
    var ready = 0, pods = 0, draining = 0;
    var seenUps = {};

    view.upstreams.forEach(function (u) {
      seenUps[u.name] = true;
      var ue = ups[u.name] || (ups[u.name] = makeUpstream(u));
      var present = {};
      var upRate = 0, upCalls = 0;
      // 1. update each present Pod's history
      u.endpoints.forEach(function (e) {
        present[e.address] = true;
        var p = ue.rows[e.address];
        if (p && (p.goneAt || p.firstSeen !== e.firstSeen)) {
          // came back (new Pod object behind the same address): start over
          if (p.el.parentNode) p.el.parentNode.removeChild(p.el);
          delete ue.rows[e.address]; p = null;
        }
        if (!p) {
          p = ue.rows[e.address] = makeRow(ue, e);
          if (ue.seen) {
            p.bornAt = now; p.el.classList.add('new');
            logEvent('add', '+', e.address + ' joined ' + u.name, now);
          }
        }
        if (!p.draining && e.draining) logEvent('drain', '↘', e.address + ' is draining (left DNS) — ' + e.inFlight + ' in flight', now);
        else if (p.draining && !e.draining) logEvent('add', '↺', e.address + ' is back in DNS', now);
        else if (ue.seen && p.state !== e.state && !e.draining && p.hist.length > 0 &&
                 (e.state === 'TRANSIENT_FAILURE' || p.state === 'TRANSIENT_FAILURE'))
          logEvent('state', '!', e.address + ' ' + p.state + ' → ' + e.state, now);
        if (p.healthy !== false && e.healthy === false) logEvent('state', '!', e.address + ' failed its health checks: out of rotation', now);
        else if (p.healthy === false && e.healthy !== false) logEvent('add', '↺', e.address + ' answers health checks again', now);
        p.healthy = e.healthy;
        p.draining = e.draining; p.state = e.state; p.data = e;
        p.hist.push({ t: now, calls: e.calls, failures: e.failures });
        trim(p.hist, now);
        p.r = windowRate(p.hist, now, 'calls');
        p.fr = windowRate(p.hist, now, 'failures');
        p.dCalls = p.hist.length > 1 ? p.hist[p.hist.length - 1].calls - p.hist[0].calls : 0;
        upRate += p.r; upCalls += e.calls;
      });
      // 2. Pods that left: fade out, then drop
      Object.keys(ue.rows).forEach(function (a) {
        var p = ue.rows[a];
        if (present[a]) return;
        if (!p.goneAt) {
          p.goneAt = now; p.r = 0; p.fr = 0;
          p.el.classList.remove('new'); p.el.classList.add('gone');
          p.st.textContent = 'gone';
          logEvent('del', '−', a + ' left ' + u.name, now);
        } else if (now - p.goneAt > GONE_MS) {
          if (p.el.parentNode) p.el.parentNode.removeChild(p.el);
          delete ue.rows[a];
        }
      });
      // 3. draw rows in snapshot order (oldest Pod first); fading rows keep their place
      var live = u.endpoints.filter(function (e) { return !e.draining; }).length;
      // Bars are drawn to a scale where the even share (dashed line) sits mid-track, so a
      // balanced upstream reads as bars ending on the line; a hot Pod reaches past it.
      var shares = {};
      var maxShare = 0;
      Object.keys(ue.rows).forEach(function (a) {
        var p = ue.rows[a];
        if (p.goneAt) return;
        var sh = upRate > 0 ? p.r / upRate : (upCalls > 0 ? p.data.calls / upCalls : 0);
        shares[a] = sh;
        if (sh > maxShare) maxShare = sh;
      });
      var scale = Math.min(1, 2 / Math.max(1, live));
      if (maxShare > scale) scale = Math.min(1, maxShare * 1.05);
      var prev = null;
      var list = Object.keys(ue.rows).map(function (a) { return ue.rows[a]; });
      list.sort(function (x, y) { return (x.firstSeen < y.firstSeen ? -1 : x.firstSeen > y.firstSeen ? 1 : (x.data.address < y.data.address ? -1 : 1)); });
      list.forEach(function (p) {
        var want = prev ? prev.el.nextSibling : ue.rowsEl.firstChild;
        if (want !== p.el) ue.rowsEl.insertBefore(p.el, want);
        prev = p;
        if (p.goneAt) return;
        var e = p.data;
        var share = shares[e.address] || 0;
        var errShare = p.r > 0 ? Math.min(1, p.fr / p.r) : 0;
        p.bar.style.width = Math.min(100, share / scale * 100).toFixed(2) + '%';
        p.bar.style.opacity = upRate > 0 ? '1' : '.45';
        p.errpart.style.width = (errShare * 100).toFixed(1) + '%';
        p.even.style.display = live > 1 && !e.draining ? 'block' : 'none';
        p.even.style.left = Math.min(100, 100 / Math.max(1, live) / scale).toFixed(2) + '%';
        p.el.setAttribute('data-share', share.toFixed(4));
        p.share.textContent = (upRate > 0 || upCalls > 0) ? Math.round(share * 100) + '%' : '–';
        p.rate.textContent = fmtRate(p.r);
        p.calls.textContent = fmtInt(e.calls);
        p.errs.textContent = fmtInt(e.failures);
        p.errs.classList.toggle('bad', e.failures > 0);
        p.errs.title = e.failures > 0 ? fmtRate(p.fr) + ' errors/s now' : '';
        p.infl.textContent = fmtInt(e.inFlight);
        p.age.textContent = fmtDur((now - Date.parse(e.firstSeen)) / 1000);
        var cls = p.el.classList;
        var isNew = p.bornAt && now - p.bornAt < NEW_MS;
        cls.toggle('new', !!isNew && !e.draining);
        cls.toggle('draining', e.draining);
        cls.toggle('unhealthy', !e.draining && e.healthy === false);
        cls.toggle('connecting', !e.draining && e.state === 'CONNECTING');
        cls.toggle('failing', !e.draining && e.state === 'TRANSIENT_FAILURE');
        cls.toggle('idle', !e.draining && (e.state === 'IDLE' || e.state === 'SHUTDOWN'));
        p.st.textContent = e.draining ? 'draining' : e.healthy === false ? (e.inRotation ? 'unhealthy (panic)' : 'unhealthy') : isNew ? 'new' : e.state === 'TRANSIENT_FAILURE' ? 'failing' : e.state.toLowerCase();
        p.el.setAttribute('data-state', e.draining ? 'DRAINING' : e.state);
        p.el.setAttribute('data-address', e.address);
        if (e.inRotation) ready++;
        if (e.draining) draining++;
        pods++;
      });
      ue.empty.style.display = list.length ? 'none' : 'block';
      ue.el.setAttribute('data-upstream', u.name);
      // 4. the card's header facts
      ue.facts.textContent = '';
      var upReady = u.endpoints.filter(function (e) { return e.inRotation; }).length;
      fact(ue.facts, 'Pods in rotation', upReady + ' / ' + u.endpoints.length, upReady === 0);
      if (u.panic) fact(ue.facts, 'panic', 'every Pod fails its health checks; serving through them', true);
      fact(ue.facts, 'calls/s', fmtRate(upRate));
      fact(ue.facts, 'retries', fmtInt(u.retries));
      if (u.kind === 'dns') {
        var ls = u.resolver.lastSuccess ? fmtDur((now - Date.parse(u.resolver.lastSuccess)) / 1000) + ' ago' : 'never';
        fact(ue.facts, 'DNS ok', ls, !u.resolver.lastSuccess);
        fact(ue.facts, 'lookups', fmtInt(u.resolver.lookups) + (u.resolver.failures ? ' · ' + fmtInt(u.resolver.failures) + ' failed' : ''), u.resolver.failures > 0);
      }
      ue.seen = true;
    });
    Object.keys(ups).forEach(function (n) {
      if (!seenUps[n]) { ups[n].el.parentNode.removeChild(ups[n].el); delete ups[n]; }
    });

    // gateway-wide tiles
    var calls = g.calls;
    if (calls) {
      totalHist.push({ t: now, total: calls.total, errors: calls.errors });
      trim(totalHist, now);
      var rate = windowRate(totalHist, now, 'total');
      var erate = windowRate(totalHist, now, 'errors');
      $('t-rate').textContent = fmtRate(rate);
      $('t-total').textContent = fmtInt(calls.total) + ' calls since start';
      $('t-inflight').textContent = fmtInt(calls.inFlight);
      var pct = rate > 0 ? erate / rate * 100 : 0;
      $('t-err').innerHTML = '';
      $('t-err').appendChild(document.createTextNode(pct < 10 && pct > 0 ? pct.toFixed(1) : String(Math.round(pct))));
      $('t-err').appendChild(el('small', '', '%'));
      $('t-err').classList.toggle('bad', pct >= 1);
      $('t-errs').textContent = fmtInt(calls.errors) + ' non-OK since start · ' + fmtRate(erate) + '/s now';
      spark.push(rate);
      if (spark.length > SPARK_POINTS) spark.shift();
      drawSpark();
    }
    $('t-pods').innerHTML = '';
    $('t-pods').appendChild(document.createTextNode(String(ready)));
    $('t-pods').appendChild(el('small', '', '/ ' + pods));
    $('t-pods').classList.toggle('bad', pods > 0 && ready === 0);
    $('t-podss').textContent = view.upstreams.length + ' upstream' + (view.upstreams.length === 1 ? '' : 's') + (draining ? ' · ' + draining + ' draining' : '');
  }

  function drawSpark() {
    var svg = $('spark');
    var max = Math.max.apply(null, spark.concat([1]));
    var n = SPARK_POINTS - 1, pts = [];
    var off = SPARK_POINTS - spark.length;
    spark.forEach(function (v, i) { pts.push(((off + i) / n * 120).toFixed(1) + ',' + (38 - v / max * 34).toFixed(1)); });
    if (pts.length < 2) return;
    var line = 'M' + pts.join(' L');
    var area = line + ' L120,40 L' + (off / n * 120).toFixed(1) + ',40 Z';
    svg.innerHTML = '<path d="' + area + '" fill="rgba(61,90,254,.10)"/><path d="' + line + '" fill="none" stroke="#3d5afe" stroke-width="1.6" vector-effect="non-scaling-stroke" stroke-linejoin="round"/>';
  }

  function setLive(ok) {
    $('live').classList.toggle('down', !ok);
    $('livetext').textContent = ok ? 'live' : 'disconnected';
    $('banner').classList.toggle('on', !ok && !first);
  }

  function poll() {
    var started = Date.now();
    var ctl = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = setTimeout(function () { if (ctl) ctl.abort(); }, 3000);
    fetch('endpoints', { cache: 'no-store', signal: ctl ? ctl.signal : undefined })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (view) {
        var now = Date.parse(view.gateway.now) || Date.now();
        render(view, now);
        last = view; failing = 0; first = false;
        setLive(true);
        document.body.setAttribute('data-polls', String((Number(document.body.getAttribute('data-polls')) || 0) + 1));
      })
      .catch(function () { failing++; setLive(false); })
      .then(function () {
        clearTimeout(timer);
        setTimeout(poll, Math.max(100, POLL_MS - (Date.now() - started)));
      });
  }
  poll();
})();
</script>
</body>
</html>
`;
