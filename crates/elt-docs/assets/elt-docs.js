/*
 * elt docs front-end.
 *
 * Renders the data files written by `elt docs generate`:
 *   data/index.js      window.ELT_DOCS            (loaded by index.html)
 *   data/chunk-K.js    window.ELT_DOCS_CHUNK(K,{}) (node details, loaded on demand)
 *   data/lineage.js    window.ELT_DOCS_LINEAGE     (column lineage, loaded on demand)
 *
 * Everything is loaded with <script src> (never fetch) so the site also works
 * from file://. The only network call is the optional selection API of
 * `elt docs serve`.
 *
 * Security rule for this file: project text (names, descriptions, SQL, ...)
 * only ever reaches the DOM through textContent / createTextNode /
 * setAttribute. innerHTML is used in exactly one place, setTrustedHtml(),
 * and only for fields whose name ends in `_html` (sanitized by the Rust side).
 */
(function () {
  'use strict';

  var T_START = performance.now();

  /* ======================================================================
   * 1. DOM helpers
   * ==================================================================== */

  // h('div', {class: 'x', title: t}, child, 'text', [more]) builds an element.
  // Strings become text nodes, so callers can never inject markup by accident.
  function h(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) setAttrs(e, attrs);
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }

  var SVGNS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    if (attrs) setAttrs(e, attrs);
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }

  function setAttrs(e, attrs) {
    for (var k in attrs) {
      var v = attrs[k];
      if (v == null || v === false) continue;
      if (k === 'text') e.textContent = String(v);
      else if (typeof v === 'function') e.addEventListener(k.replace(/^on/, ''), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
  }

  function add(parent, c) {
    if (c == null || c === false) return;
    if (Array.isArray(c)) { for (var i = 0; i < c.length; i++) add(parent, c[i]); return; }
    parent.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }

  // The single innerHTML sink. Callers pass `*_html` fields only.
  function setTrustedHtml(el, html) {
    el.innerHTML = typeof html === 'string' ? html : '';
    return el;
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

  function debounce(fn, ms) {
    var t = 0;
    var d = function () { var a = arguments, self = this; clearTimeout(t); t = setTimeout(function () { fn.apply(self, a); }, ms); };
    d.cancel = function () { clearTimeout(t); };
    return d;
  }

  function enc(x) { return encodeURIComponent(x); }
  function dec(x) { try { return decodeURIComponent(x); } catch (e) { return x; } }

  function loadScript(url) {
    return new Promise(function (resolve, reject) {
      var sc = document.createElement('script');
      sc.src = url;
      sc.async = true;
      sc.onload = function () { resolve(); };
      sc.onerror = function () { sc.remove(); reject(new Error('could not load ' + url)); };
      document.head.appendChild(sc);
    });
  }

  /* ======================================================================
   * 2. Project data and derived indexes
   * ==================================================================== */

  var D = window.ELT_DOCS;
  var MAIN = document.getElementById('main');
  if (!D || !Array.isArray(D.nodes)) {
    add(clear(MAIN), h('div', { class: 'empty' }, 'No documentation data found (data/index.js). Run `elt docs generate`.'));
    document.documentElement.dataset.rendered = String(Math.round(performance.now()));
    return;
  }
  var PROJECT = D.project || {};
  var NODES = D.nodes;
  var N = NODES.length;

  // id -> node number. Built eagerly: one Map insert per node is cheap even at 30k.
  var ID_TO_NUM = new Map();
  for (var i0 = 0; i0 < N; i0++) ID_TO_NUM.set(NODES[i0].id, i0);

  // Downstream index, built on first use (the overview does not need it).
  var childrenIdx = null;
  function childrenOf(n) {
    if (!childrenIdx) {
      childrenIdx = new Array(N);
      for (var i = 0; i < N; i++) {
        var ps = NODES[i].parents || [];
        for (var j = 0; j < ps.length; j++) {
          var p = ps[j];
          if (p >= 0 && p < N) (childrenIdx[p] || (childrenIdx[p] = [])).push(i);
        }
      }
    }
    return childrenIdx[n] || [];
  }
  function parentsOf(n) {
    return (NODES[n].parents || []).filter(function (p) { return p >= 0 && p < N; });
  }

  var TYPE_ORDER = ['model', 'source', 'seed', 'snapshot', 'test', 'analysis', 'macro', 'exposure'];
  var TYPE_PLURAL = { model: 'Models', source: 'Sources', seed: 'Seeds', snapshot: 'Snapshots', test: 'Tests',
    analysis: 'Analyses', macro: 'Macros', exposure: 'Exposures' };

  function typeClass(t) { return 'type-' + (TYPE_PLURAL[t] ? t : 'other'); }
  function displayName(n) { return NODES[n].name || NODES[n].id; }
  function sourceName(n) { var nm = NODES[n].name || ''; var k = nm.indexOf('.'); return k < 0 ? nm : nm.slice(0, k); }

  /* ======================================================================
   * 3. Lazy data: detail chunks and lineage
   * ==================================================================== */

  var chunkStore = new Map();   // K -> {id: DETAIL}
  var chunkWaiters = new Map(); // K -> [{resolve, reject}]

  // Called by data/chunk-K.js.
  window.ELT_DOCS_CHUNK = function (k, data) {
    chunkStore.set(k, data || {});
    var ws = chunkWaiters.get(k);
    chunkWaiters.delete(k);
    if (ws) ws.forEach(function (w) { w.resolve(data || {}); });
  };

  function loadChunk(k) {
    if (!Number.isInteger(k) || k < 0) return Promise.reject(new Error('bad chunk number'));
    if (chunkStore.has(k)) return Promise.resolve(chunkStore.get(k));
    return new Promise(function (resolve, reject) {
      var first = !chunkWaiters.has(k);
      if (first) chunkWaiters.set(k, []);
      chunkWaiters.get(k).push({ resolve: resolve, reject: reject });
      if (first) loadScript('data/chunk-' + k + '.js').then(function () {
        // Script ran but did not call ELT_DOCS_CHUNK(k): fail instead of hanging.
        if (!chunkStore.has(k)) failChunk(k, new Error('data/chunk-' + k + '.js did not define chunk ' + k));
      }, function (err) { failChunk(k, err); });
    });
  }
  function failChunk(k, err) {
    var ws = chunkWaiters.get(k) || [];
    chunkWaiters.delete(k);
    ws.forEach(function (w) { w.reject(err); });
  }
  function loadDetail(n) {
    return loadChunk(NODES[n].chunk).then(function (c) { return c[NODES[n].id] || null; });
  }

  var lineagePromise = null;
  function loadLineage() {
    if (!lineagePromise) {
      lineagePromise = (window.ELT_DOCS_LINEAGE ? Promise.resolve() : loadScript('data/lineage.js')).then(function () {
        var L = window.ELT_DOCS_LINEAGE;
        if (!L || typeof L.nodes !== 'object') throw new Error('data/lineage.js has no lineage data');
        return L;
      });
      lineagePromise.catch(function () { lineagePromise = null; }); // allow a retry later
    }
    return lineagePromise;
  }

  // Column names match case-insensitively: per node, lower(name) -> {name, entry}.
  var colMapCache = new Map();
  function lineageColumns(L, n) {
    var cached = colMapCache.get(n);
    if (cached) return cached;
    var m = new Map();
    var nl = L.nodes[String(n)];
    var cols = (nl && nl.columns) || {};
    for (var name in cols) m.set(name.toLowerCase(), { name: name, entry: cols[name] || {} });
    colMapCache.set(n, m);
    return m;
  }

  // Reverse column index (upstream column -> downstream columns), built once.
  var revColIdx = null;
  function reverseColumns(L) {
    if (revColIdx) return revColIdx;
    revColIdx = new Map();
    for (var key in L.nodes) {
      var n = Number(key), cols = (L.nodes[key] && L.nodes[key].columns) || {};
      for (var c in cols) {
        var srcs = (cols[c] && cols[c].sources) || [];
        for (var i = 0; i < srcs.length; i++) {
          var rk = srcs[i][0] + '\u0000' + String(srcs[i][1]).toLowerCase();
          var list = revColIdx.get(rk);
          if (!list) revColIdx.set(rk, list = []);
          list.push({ n: n, col: c, kind: cols[c].kind });
        }
      }
    }
    return revColIdx;
  }

  // One-line lineage summary for a column, e.g. "direct from stg_orders.id".
  function lineageSummary(L, n, col) {
    var nl = L.nodes[String(n)];
    if (!nl) {
      var t = NODES[n].type;
      if (t === 'source' || t === 'seed') return { cls: 'root', text: t + ' column (no upstream)' };
      return { cls: 'none', text: 'no lineage information' };
    }
    if (nl.error) return { cls: 'unknown', text: 'unknown: ' + nl.error };
    var hit = lineageColumns(L, n).get(String(col).toLowerCase());
    if (!hit) return { cls: 'none', text: 'no lineage information' };
    var e = hit.entry, kind = e.kind || 'unknown';
    if (kind === 'unknown') return { cls: 'unknown', text: 'unknown' + (e.reason ? ': ' + e.reason : '') };
    var srcs = (e.sources || []).map(function (sc) {
      return (sc[0] >= 0 && sc[0] < N ? displayName(sc[0]) : '?') + '.' + sc[1];
    });
    return { cls: kind, text: kind + (srcs.length ? ' from ' + srcs.join(', ') : ' (no upstream columns)') };
  }

  /* ======================================================================
   * 4. Routing (#!/page/args?query)
   * ==================================================================== */

  var href = {
    overview: function () { return '#!/overview'; },
    node: function (n) { return '#!/node/' + enc(NODES[n].id); },
    column: function (n, c) { return '#!/column/' + enc(NODES[n].id) + '/' + enc(c); },
    search: function (q) { return '#!/search?q=' + enc(q); },
    graph: function (sel, exc, node) {
      var q = 'select=' + enc(sel || '');
      if (exc) q += '&exclude=' + enc(exc);
      if (node != null) q += '&node=' + enc(NODES[node].id);
      return '#!/graph?' + q;
    }
  };
  function graphHrefFor(n) {
    var nd = NODES[n];
    var sel = nd.type === 'source' ? '+source:' + nd.name + '+' : nd.type === 'exposure' ? '+exposure:' + nd.name : '+' + nd.name + '+';
    return href.graph(sel, '', n);
  }

  // '+' is a literal in selection syntax, so the query is decoded with
  // decodeURIComponent only (URLSearchParams would turn '+' into a space).
  function parseQuery(qs) {
    var out = {};
    qs.split('&').forEach(function (kv) {
      if (!kv) return;
      var k = kv.indexOf('=');
      if (k < 0) out[dec(kv)] = '';
      else out[dec(kv.slice(0, k))] = dec(kv.slice(k + 1));
    });
    return out;
  }

  function parseRoute() {
    var r = location.hash.replace(/^#!?/, '');
    if (r.charAt(0) !== '/') r = '/' + r;
    var qi = r.indexOf('?');
    var path = qi < 0 ? r : r.slice(0, qi);
    var parts = path.slice(1).split('/');
    return { page: parts[0] || 'overview', args: parts.slice(1).map(dec), query: parseQuery(qi < 0 ? '' : r.slice(qi + 1)) };
  }

  var routeToken = 0; // bumps on every navigation; async work checks it before touching the DOM

  function route() {
    var tok = ++routeToken;
    var r = parseRoute();
    if (!(r.page === 'graph' && graphUI && MAIN.contains(graphUI.page))) { clear(MAIN); MAIN.scrollTop = 0; }
    document.body.dataset.page = r.page;
    var searchBox = document.getElementById('search');
    if (r.page !== 'search' && document.activeElement !== searchBox) searchBox.value = '';
    setActiveSidebar(null);
    if (r.page === 'node') renderNodePage(r.args.join('/'), tok);
    else if (r.page === 'column') renderColumnPage(r.args[0], r.args.slice(1).join('/'), tok);
    else if (r.page === 'graph') renderGraphPage(r.query, tok);
    else if (r.page === 'search') renderSearchPage(r.query.q || '');
    else renderOverview();
  }

  /* ======================================================================
   * 5. Header: search box
   * ==================================================================== */

  var searchLower = null; // lazily built lowercase copies of searchable text
  function buildSearchIndex() {
    searchLower = { name: new Array(N), cols: new Array(N), desc: new Array(N) };
    for (var i = 0; i < N; i++) {
      var nd = NODES[i];
      searchLower.name[i] = String(nd.name || '').toLowerCase();
      searchLower.cols[i] = (nd.columns || []).join('\n').toLowerCase();
      searchLower.desc[i] = String(nd.description || '').toLowerCase();
    }
  }

  // Returns [{n, field, text}] ordered: name matches, column matches, description matches.
  // Within name matches: exact, then prefix, then substring; tests after other types.
  function search(q) {
    q = q.trim().toLowerCase();
    if (!q) return [];
    if (!searchLower) buildSearchIndex();
    var nameHits = [], colHits = [], descHits = [];
    for (var i = 0; i < N; i++) {
      var nm = searchLower.name[i], k = nm.indexOf(q);
      if (k >= 0) { nameHits.push({ n: i, field: 'name', rank: (nm === q ? 0 : k === 0 ? 1 : 2) + (NODES[i].type === 'test' ? 3 : 0) }); continue; }
      if (searchLower.cols[i].indexOf(q) >= 0) { colHits.push({ n: i, field: 'column' }); continue; }
      if (searchLower.desc[i].indexOf(q) >= 0) descHits.push({ n: i, field: 'description' });
    }
    nameHits.sort(function (a, b) { return a.rank - b.rank || a.n - b.n; });
    return nameHits.concat(colHits, descHits);
  }

  function setupHeader() {
    var title = document.getElementById('project-name');
    title.textContent = PROJECT.name || 'elt project';
    document.title = (PROJECT.name ? PROJECT.name + ' · ' : '') + 'elt docs';

    var box = document.getElementById('search');
    var go = debounce(function () {
      var q = box.value;
      if (parseRoute().page === 'search') { history.replaceState(null, '', href.search(q)); route(); }
      else if (q.trim()) location.hash = href.search(q);
    }, 150);
    box.addEventListener('input', go);
    box.addEventListener('keydown', function (e) {
      if (e.key === 'Enter') {
        e.preventDefault();
        go.cancel(); // a pending "as you type" navigation must not override this one
        var res = search(box.value);
        location.hash = res.length ? href.node(res[0].n) : href.search(box.value);
      } else if (e.key === 'Escape') { box.value = ''; box.blur(); }
    });
    // "/" focuses search, like most docs sites.
    document.addEventListener('keydown', function (e) {
      if (e.key === '/' && !/INPUT|TEXTAREA/.test((document.activeElement || {}).tagName || '')) { e.preventDefault(); box.focus(); }
    });
  }

  /* ======================================================================
   * 6. Sidebar: lazy package/folder tree
   * ==================================================================== */

  // Only buckets are computed at start-up; folder structure of a bucket is
  // built the first time it is expanded, and each folder's <li>s on its own
  // first expand. That keeps 10k-model projects instant.
  var folderRegistry = new Map(); // folder key -> expand()
  var SIDEBAR = document.getElementById('sidebar-tree');

  function setupSidebar() {
    var byPkg = new Map(), bySource = new Map();
    for (var i = 0; i < N; i++) {
      var t = NODES[i].type;
      if (t === 'test') continue; // tests are reached from their models / search
      if (t === 'source') {
        var sn = sourceName(i);
        (bySource.get(sn) || bySource.set(sn, []).get(sn)).push(i);
      } else {
        var p = NODES[i].package || '(no package)';
        (byPkg.get(p) || byPkg.set(p, []).get(p)).push(i);
      }
    }
    var pkgs = Array.from(byPkg.keys()).sort(function (a, b) {
      return (b === PROJECT.name) - (a === PROJECT.name) || a.localeCompare(b);
    });
    var frag = document.createDocumentFragment();
    frag.appendChild(h('li', { class: 'tree-heading' }, 'Project'));
    pkgs.forEach(function (p) {
      frag.appendChild(folderItem('pkg/' + p, p, byPkg.get(p).length, 'package', function () { return pathTree('pkg/' + p, byPkg.get(p)); }));
    });
    if (bySource.size) {
      frag.appendChild(h('li', { class: 'tree-heading' }, 'Sources'));
      Array.from(bySource.keys()).sort().forEach(function (sn) {
        frag.appendChild(folderItem('src/' + sn, sn, bySource.get(sn).length, 'source-group', function () {
          return { folders: [], leaves: sortLeaves(bySource.get(sn)) };
        }));
      });
    }
    SIDEBAR.appendChild(frag);
  }

  // Natural order ("model_2" before "model_10"); the collator is created on first expand.
  var collator = null;
  function collate(x, y) {
    if (!collator) collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' }).compare;
    return collator(x, y);
  }
  function sortLeaves(nums) {
    return nums.slice().sort(function (a, b) { return collate(displayName(a), displayName(b)); });
  }

  // Folder structure of one package from node paths. Returns the root level;
  // deeper levels are closures so they too are only walked when expanded.
  function pathTree(prefix, nums) {
    var root = { sub: new Map(), leaves: [] };
    nums.forEach(function (n) {
      var parts = String(NODES[n].path || '').split('/');
      parts.pop();
      var f = root;
      for (var i = 0; i < parts.length; i++) {
        if (!parts[i]) continue;
        var nx = f.sub.get(parts[i]);
        if (!nx) f.sub.set(parts[i], nx = { sub: new Map(), leaves: [] , count: 0 });
        nx.count++;
        f = nx;
      }
      f.leaves.push(n);
    });
    function level(key, f) {
      return {
        folders: Array.from(f.sub.keys()).sort(collate).map(function (name) {
          var sub = f.sub.get(name), k = key + '/' + name;
          return { key: k, label: name, count: sub.count, build: function () { return level(k, sub); } };
        }),
        leaves: sortLeaves(f.leaves)
      };
    }
    return level(prefix, root);
  }

  function folderItem(key, label, count, kind, build) {
    var ul = h('ul', { class: 'tree', hidden: true });
    var btn = h('button', { class: 'tree-toggle ' + kind, type: 'button', 'aria-expanded': 'false', title: label },
      h('span', { class: 'caret', 'aria-hidden': 'true' }), h('span', { class: 'tree-label' }, label), h('span', { class: 'tree-count' }, String(count)));
    var li = h('li', { class: 'tree-folder', 'data-key': key }, btn, ul);
    var built = false;
    function expand(open) {
      if (!built) {
        built = true;
        var lv = build(), frag = document.createDocumentFragment();
        lv.folders.forEach(function (f) { frag.appendChild(folderItem(f.key, f.label, f.count, 'folder', f.build)); });
        lv.leaves.forEach(function (n) { frag.appendChild(leafItem(n)); });
        ul.appendChild(frag);
      }
      ul.hidden = !open;
      btn.setAttribute('aria-expanded', String(open));
    }
    btn.addEventListener('click', function () { expand(ul.hidden); });
    folderRegistry.set(key, expand);
    return li;
  }

  function leafItem(n) {
    var nd = NODES[n];
    var label = nd.type === 'source' ? nd.name.slice(nd.name.indexOf('.') + 1) : displayName(n);
    return h('li', { class: 'tree-leaf' },
      h('a', { href: href.node(n), 'data-id': nd.id, title: nd.id },
        h('span', { class: 'dot ' + typeClass(nd.type), 'aria-hidden': 'true' }), h('span', { class: 'tree-label' }, label)));
  }

  // Expand the folders leading to node n and highlight its entry.
  function revealInSidebar(n) {
    var nd = NODES[n], keys;
    if (nd.type === 'test') return;
    if (nd.type === 'source') keys = ['src/' + sourceName(n)];
    else {
      keys = ['pkg/' + (nd.package || '(no package)')];
      var parts = String(nd.path || '').split('/').slice(0, -1).filter(Boolean);
      for (var i = 0; i < parts.length; i++) keys.push(keys[keys.length - 1] + '/' + parts[i]);
    }
    keys.forEach(function (k) { var ex = folderRegistry.get(k); if (ex) ex(true); });
    setActiveSidebar(nd.id);
  }
  function setActiveSidebar(id) {
    var old = SIDEBAR.querySelector('a.active');
    if (old) old.classList.remove('active');
    if (id == null) return;
    var a = SIDEBAR.querySelector('a[data-id="' + CSS.escape(id) + '"]');
    if (a) { a.classList.add('active'); a.scrollIntoView({ block: 'nearest' }); }
  }

  /* ======================================================================
   * 7. Pages
   * ==================================================================== */

  var typeCounts = null;
  function renderOverview() {
    if (!typeCounts) {
      typeCounts = {};
      for (var i = 0; i < N; i++) typeCounts[NODES[i].type] = (typeCounts[NODES[i].type] || 0) + 1;
    }
    var types = TYPE_ORDER.filter(function (t) { return typeCounts[t]; })
      .concat(Object.keys(typeCounts).filter(function (t) { return TYPE_ORDER.indexOf(t) < 0; }));
    var meta = [];
    if (PROJECT.adapter) meta.push('adapter ' + PROJECT.adapter);
    if (PROJECT.elt_version) meta.push('elt ' + PROJECT.elt_version);
    if (PROJECT.generated_at) meta.push('generated ' + PROJECT.generated_at);
    add(MAIN, h('div', { class: 'page', id: 'overview-page' },
      h('h1', null, PROJECT.name || 'Project'),
      h('p', { class: 'muted' }, meta.join(' · ')),
      h('div', { class: 'cards' }, types.map(function (t) {
        return h('div', { class: 'card' }, h('span', { class: 'dot ' + typeClass(t) }), h('div', { class: 'card-count' }, String(typeCounts[t])), h('div', { class: 'card-label' }, TYPE_PLURAL[t] || t));
      })),
      setTrustedHtml(h('div', { class: 'prose' }), PROJECT.overview_html),
      h('p', null, h('a', { href: '#!/graph' }, 'Open the lineage graph'))));
  }

  function renderSearchPage(q) {
    var box = document.getElementById('search');
    if (box.value !== q && document.activeElement !== box) box.value = q;
    var res = search(q), shown = res.slice(0, 200);
    var page = h('div', { class: 'page', id: 'search-page' },
      h('h1', null, 'Search'),
      h('p', { class: 'muted', id: 'search-count' }, !q.trim() ? 'Type in the search box.' :
        res.length + ' result' + (res.length === 1 ? '' : 's') + ' for "' + q + '"' + (res.length > 200 ? ' (showing the first 200)' : '')));
    var list = h('ol', { class: 'search-results' });
    shown.forEach(function (r) {
      var nd = NODES[r.n];
      list.appendChild(h('li', null, h('a', { class: 'search-result', href: href.node(r.n), 'data-id': nd.id },
        h('span', { class: 'badge ' + typeClass(nd.type) }, nd.type),
        h('span', { class: 'result-name' }, displayName(r.n)),
        h('span', { class: 'result-why' }, matchContext(r, q)))));
    });
    page.appendChild(list);
    MAIN.appendChild(page);
  }

  // Short text explaining a column/description match.
  function matchContext(r, q) {
    var ql = q.trim().toLowerCase(), nd = NODES[r.n];
    if (r.field === 'column') {
      var cs = (nd.columns || []).filter(function (c) { return String(c).toLowerCase().indexOf(ql) >= 0; });
      return 'column ' + cs.slice(0, 3).join(', ') + (cs.length > 3 ? ', …' : '');
    }
    if (r.field === 'description') {
      var d = String(nd.description || ''), k = d.toLowerCase().indexOf(ql), a = Math.max(0, k - 40);
      return (a > 0 ? '…' : '') + d.slice(a, k + ql.length + 60) + (k + ql.length + 60 < d.length ? '…' : '');
    }
    return nd.path || nd.id;
  }

  /* ---------- node page ---------- */

  function renderNodePage(id, tok) {
    var n = ID_TO_NUM.get(id);
    if (n == null) { add(MAIN, h('div', { class: 'page empty' }, 'No node with id ' + id)); return; }
    var nd = NODES[n];
    revealInSidebar(n);

    var metaList = h('dl', { class: 'meta' });
    function meta(k, v) { if (v != null && v !== '') add(metaList, [h('dt', null, k), h('dd', null, v)]); }
    meta('type', nd.type);
    meta('package', nd.package);
    meta('relation', nd.relation ? h('code', null, nd.relation) : null);
    meta('materialized', nd.materialized);
    meta('path', nd.path ? h('code', null, nd.path) : null);
    if (nd.tags && nd.tags.length) meta('tags', nd.tags.map(function (t) { return h('span', { class: 'tag' }, t); }));

    var desc = h('div', { class: 'prose description' }, nd.description ? h('p', null, nd.description) : null);
    var colSection = h('section', { class: 'columns-section' });
    var detailArea = h('div', { class: 'detail-area' }, h('p', { class: 'muted loading' }, 'Loading details…'));

    var page = h('div', { class: 'page', id: 'node-page', 'data-id': nd.id },
      h('div', { class: 'node-title' },
        h('span', { class: 'badge ' + typeClass(nd.type) }, nd.type),
        h('h1', null, displayName(n)),
        nd.type !== 'macro' ? h('a', { class: 'button graph-link', href: graphHrefFor(n) }, 'lineage graph') : null),
      metaList, desc, colSection,
      linkListSection('Upstream', 'upstream', parentsOf(n)),
      linkListSection('Downstream', 'downstream', childrenOf(n).filter(function (c) { return NODES[c].type !== 'test'; })),
      detailArea);
    MAIN.appendChild(page);

    var state = { detail: null, lineage: null };
    var showColumns = nd.type !== 'macro' && nd.type !== 'test';
    function refreshColumns() { if (showColumns) renderColumns(clear(colSection), n, state); }
    refreshColumns();

    loadDetail(n).then(function (detail) {
      if (tok !== routeToken) return;
      state.detail = detail || {};
      if (detail) {
        meta('database', detail.database);
        meta('schema', detail.schema);
        if (detail.original_file_path && detail.original_file_path !== nd.path) meta('file', h('code', null, detail.original_file_path));
        if (detail.description_html) setTrustedHtml(clear(desc), detail.description_html);
      }
      refreshColumns();
      renderDetail(clear(detailArea), n, state.detail);
    }, function (err) {
      if (tok !== routeToken) return;
      add(clear(detailArea), h('p', { class: 'error' }, 'Details unavailable: ' + err.message));
    });

    if (showColumns) loadLineage().then(function (L) {
      if (tok !== routeToken) return;
      state.lineage = L;
      refreshColumns();
    }, function (err) {
      if (tok !== routeToken) return;
      state.lineageError = err.message;
      refreshColumns();
    });
  }

  function linkListSection(title, cls, nums) {
    if (!nums.length) return null;
    return h('section', { class: 'links ' + cls },
      h('h2', null, title + ' ', h('span', { class: 'muted' }, '(' + nums.length + ')')),
      h('ul', { class: 'node-links' }, nums.map(function (m) {
        return h('li', null, h('a', { href: href.node(m), 'data-id': NODES[m].id },
          h('span', { class: 'dot ' + typeClass(NODES[m].type) }), displayName(m)));
      })));
  }

  // Column table: detail columns (with types/docs) when loaded, else the
  // names from the index; plus lineage-only columns once lineage is known.
  function renderColumns(sec, n, state) {
    var nd = NODES[n];
    var cols = state.detail && Array.isArray(state.detail.columns) && state.detail.columns.length
      ? state.detail.columns : (nd.columns || []).map(function (c) { return { name: c }; });
    var seen = new Set(cols.map(function (c) { return String(c.name).toLowerCase(); }));
    if (state.lineage) {
      lineageColumns(state.lineage, n).forEach(function (v, k) { if (!seen.has(k)) { seen.add(k); cols = cols.concat([{ name: v.name }]); } });
    }
    if (!cols.length) return;
    var nodeErr = state.lineage && state.lineage.nodes[String(n)] && state.lineage.nodes[String(n)].error;
    var tbody = h('tbody');
    cols.forEach(function (c) {
      var summary = h('td', { class: 'column-lineage-summary' });
      if (state.lineage) {
        var sm = lineageSummary(state.lineage, n, c.name);
        summary.classList.add('lineage-' + sm.cls);
        summary.textContent = sm.text;
      } else summary.textContent = state.lineageError ? 'lineage unavailable' : '…';
      var btn = h('button', { class: 'column-lineage', type: 'button', title: 'Column lineage graph' }, 'lineage');
      btn.addEventListener('click', function () { location.hash = href.column(n, c.name); });
      tbody.appendChild(h('tr', { class: 'column', 'data-column': c.name },
        h('td', { class: 'column-name' }, h('code', null, c.name)),
        h('td', { class: 'column-type' }, c.type || ''),
        setTrustedHtml(h('td', { class: 'column-description prose' }), c.description_html),
        h('td', { class: 'column-tests' }, (c.tests || []).map(function (t) { return h('span', { class: 'tag test-tag' }, t); })),
        summary,
        h('td', { class: 'column-actions' }, btn)));
    });
    add(sec, [
      h('h2', null, 'Columns ', h('span', { class: 'muted' }, '(' + cols.length + ')')),
      nodeErr ? h('p', { class: 'lineage-error' }, 'Column lineage unknown: ' + nodeErr) : null,
      h('div', { class: 'table-wrap' }, h('table', { class: 'columns' },
        h('thead', null, h('tr', null, ['Column', 'Type', 'Description', 'Tests', 'Lineage', ''].map(function (t) { return h('th', null, t); }))),
        tbody))]);
  }

  function renderDetail(area, n, d) {
    var nd = NODES[n];
    var tests = Array.isArray(d.tests) ? d.tests.filter(function (t) { return t >= 0 && t < N; })
      : childrenOf(n).filter(function (c) { return NODES[c].type === 'test'; });
    if (tests.length) add(area, linkListSection('Tests', 'tests', tests));
    // SQL: tabs between source and compiled when both exist.
    var codes = [];
    if (d.raw_code != null) codes.push([nd.type === 'macro' ? 'Macro SQL' : 'Source', d.raw_code, 'raw-code']);
    if (d.compiled_code != null) codes.push(['Compiled', d.compiled_code, 'compiled-code']);
    if (codes.length) {
      var tabs = h('div', { class: 'tabs', role: 'tablist' }), panes = [];
      codes.forEach(function (c, i) {
        var pane = h('pre', { class: 'code ' + c[2], hidden: i > 0 }, h('code', null, c[1]));
        var tab = h('button', { type: 'button', class: 'tab' + (i === 0 ? ' active' : ''), role: 'tab' }, c[0]);
        tab.addEventListener('click', function () {
          panes.forEach(function (p, j) { p.hidden = j !== i; });
          Array.prototype.forEach.call(tabs.children, function (t, j) { t.classList.toggle('active', j === i); });
        });
        tabs.appendChild(tab);
        panes.push(pane);
      });
      add(area, h('section', { class: 'code-section' }, h('h2', null, 'Code'), tabs, panes));
    }
    if (d.config && typeof d.config === 'object' && Object.keys(d.config).length) {
      add(area, h('section', null, h('h2', null, 'Config'), h('pre', { class: 'code json' }, JSON.stringify(d.config, null, 2))));
    }
    if (d.extra && typeof d.extra === 'object' && Object.keys(d.extra).length) {
      var dl = h('dl', { class: 'meta extra' });
      Object.keys(d.extra).forEach(function (k) {
        var v = d.extra[k];
        add(dl, [h('dt', null, k), h('dd', null, typeof v === 'string' ? v : h('pre', { class: 'code json inline' }, JSON.stringify(v, null, 2)))]);
      });
      add(area, h('section', null, h('h2', null, 'Details'), dl));
    }
  }

  /* ---------- model-level graph page ---------- */

  var DRAW_LIMIT = 4000; // beyond this, ask before drawing (SVG gets sluggish)

  // The selection bar survives navigation between graph selections (the
  // page is only rebuilt when coming from another page), so focus and
  // element references stay valid while the user refines a selection.
  var graphUI = null;

  function renderGraphPage(q, tok) {
    var sel = q.select || '', exc = q.exclude || '';
    var focus = q.node != null ? ID_TO_NUM.get(q.node) : undefined;
    if (!graphUI || !MAIN.contains(graphUI.page)) graphUI = buildGraphUI();
    graphUI.focus = focus;
    graphUI.selIn.value = sel;
    graphUI.excIn.value = exc;
    var msg = graphUI.msg, box = graphUI.box;
    clear(box);
    function say(text, cls) { msg.textContent = text; msg.className = cls || ''; }

    if (!sel.trim() && !exc.trim()) { // no selection: the whole project, minus tests and macros
      var all = [];
      for (var i = 0; i < N; i++) if (NODES[i].type !== 'test' && NODES[i].type !== 'macro') all.push(i);
      say('Showing the whole project. Enter a selection (dbt syntax) to narrow it.', 'info');
      drawModelGraph(box, all, focus, msg);
      return;
    }
    say('Selecting…', 'info');
    apiSelect(sel, exc).then(function (res) {
      if (tok !== routeToken) return;
      if (res.error != null) { say(res.error, 'error'); return; }
      if (res.unavailable) {
        var f = focus != null ? focus : guessNode(sel);
        if (f == null) { say('selection needs `elt docs serve` (open a node\'s "lineage graph" to see its neighbourhood).', 'warn'); return; }
        say('selection needs `elt docs serve`; showing the upstream and downstream of ' + displayName(f) + '.', 'warn');
        drawModelGraph(box, neighbourhood(f), f, msg);
        return;
      }
      var nums = [], missing = 0;
      res.ids.forEach(function (id) { var m = ID_TO_NUM.get(id); if (m == null) missing++; else nums.push(m); });
      say(nums.length + ' node' + (nums.length === 1 ? '' : 's') + ' selected' + (missing ? ' (' + missing + ' unknown ids ignored)' : '') + '.', 'info');
      drawModelGraph(box, nums, focus, msg);
    });
  }

  function buildGraphUI() {
    var ui = {};
    ui.selIn = h('input', { id: 'select', type: 'text', placeholder: 'select, e.g. +fct_orders tag:core', spellcheck: 'false', autocomplete: 'off' });
    ui.excIn = h('input', { id: 'exclude', type: 'text', placeholder: 'exclude', spellcheck: 'false', autocomplete: 'off' });
    var apply = h('button', { id: 'select-apply', type: 'button', class: 'button primary' }, 'Apply');
    ui.msg = h('div', { id: 'select-message', role: 'status' });
    ui.box = h('div', { id: 'model-graph', class: 'graph-box' });
    function submit() {
      var nh = href.graph(ui.selIn.value.trim(), ui.excIn.value.trim(), ui.focus);
      if (location.hash === nh) route(); else location.hash = nh;
    }
    apply.addEventListener('click', submit);
    [ui.selIn, ui.excIn].forEach(function (inp) { inp.addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); submit(); } }); });
    ui.page = h('div', { class: 'page graph-page' },
      h('div', { class: 'selection-bar' }, h('label', null, 'select', ui.selIn), h('label', null, 'exclude', ui.excIn), apply),
      ui.msg, ui.box, legend(TYPE_ORDER.filter(function (t) { return t !== 'test' && t !== 'macro'; }).map(function (t) { return [t, typeClass(t)]; })));
    MAIN.appendChild(ui.page);
    return ui;
  }

  var apiMissing = location.protocol === 'file:'; // remembered so we do not re-request a missing API
  function apiSelect(sel, exc) {
    if (apiMissing) return Promise.resolve({ unavailable: true });
    return fetch('api/select?select=' + enc(sel) + '&exclude=' + enc(exc), { headers: { Accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (b) {
        if (b && Array.isArray(b.ids)) return { ids: b.ids };
        if (b && typeof b.error === 'string') return { error: b.error };
        apiMissing = true;
        return { unavailable: true };
      }, function () { apiMissing = true; return { unavailable: true }; });
  }

  // Fallback only (no API): the node a "+name+" style link refers to. This
  // is not a selector implementation, just a name lookup for the default view.
  function guessNode(sel) {
    var name = sel.trim().replace(/^\d*\+|\+\d*$/g, '').replace(/^(source|exposure):/, '');
    var best = null;
    for (var i = 0; i < N; i++) {
      if (NODES[i].name !== name && NODES[i].id !== name) continue;
      if (best == null || (NODES[best].type === 'test' && NODES[i].type !== 'test')) best = i;
    }
    return best;
  }

  // Ancestors + descendants of n (what "+name+" means).
  function neighbourhood(n) {
    var seen = new Set([n]);
    [parentsOf, childrenOf].forEach(function (next) {
      var stack = [n];
      while (stack.length) {
        next(stack.pop()).forEach(function (m) { if (!seen.has(m)) { seen.add(m); stack.push(m); } });
      }
    });
    return Array.from(seen);
  }

  function drawModelGraph(box, nums, focus, msg, force) {
    var onlyTests = nums.length > 0 && nums.every(function (m) { return NODES[m].type === 'test'; });
    var before = nums.length;
    if (!onlyTests) nums = nums.filter(function (m) { return NODES[m].type !== 'test'; });
    if (before > nums.length && msg && !force) add(msg, ' ' + (before - nums.length) + ' tests hidden.');
    clear(box);
    if (!nums.length) { add(box, h('div', { class: 'empty' }, 'No nodes to show.')); return; }
    if (nums.length > DRAW_LIMIT && !force) {
      var b = h('button', { type: 'button', class: 'button' }, 'Draw all ' + nums.length + ' nodes anyway');
      b.addEventListener('click', function () { drawModelGraph(box, nums, focus, msg, true); });
      add(box, h('div', { class: 'empty' }, h('p', null, nums.length + ' nodes is a lot to draw. Narrow the selection, or:'), b));
      return;
    }
    var index = new Map();
    nums.forEach(function (m, i) { index.set(m, i); });
    var edges = [];
    nums.forEach(function (m, i) {
      parentsOf(m).forEach(function (p) { var j = index.get(p); if (j != null) edges.push({ u: j, v: i, cls: 'edge' }); });
    });
    var gnodes = nums.map(function (m) {
      var nd = NODES[m];
      return { id: nd.id, label: displayName(m), sub: nd.type + (nd.materialized ? ' · ' + nd.materialized : ''),
        cls: typeClass(nd.type) + (m === focus ? ' focus' : ''), title: nd.id, num: m };
    });
    renderGraph(box, gnodes, edges, { width: 190, height: 40 });
  }

  function legend(items) {
    return h('div', { class: 'legend' }, items.map(function (it) {
      return h('span', { class: 'legend-item' }, h('span', { class: 'swatch ' + it[1] }), it[0]);
    }));
  }

  /* ---------- column-level graph page ---------- */

  function renderColumnPage(id, col, tok) {
    var n = ID_TO_NUM.get(id);
    if (n == null) { add(MAIN, h('div', { class: 'page empty' }, 'No node with id ' + id)); return; }
    revealInSidebar(n);
    var box = h('div', { id: 'column-graph', class: 'graph-box' }, h('div', { class: 'empty' }, 'Loading lineage…'));
    var note = h('div', { class: 'column-note' });
    MAIN.appendChild(h('div', { class: 'page graph-page' },
      h('div', { class: 'node-title' }, h('span', { class: 'badge' }, 'column lineage'),
        h('h1', null, h('a', { href: href.node(n) }, displayName(n)), '.', col),
        h('a', { class: 'button', href: graphHrefFor(n) }, 'model graph')),
      note, box,
      legend([['direct', 'edge-direct'], ['transformed', 'edge-transformed'], ['unknown lineage', 'node-unknown']])));

    loadLineage().then(function (L) {
      if (tok !== routeToken) return;
      var g = columnGraph(L, n, col);
      var sm = lineageSummary(L, n, col);
      note.className = 'column-note lineage-' + sm.cls;
      note.textContent = sm.text + ' · ' + (g.nodes.length - 1) + ' related column' + (g.nodes.length === 2 ? '' : 's');
      clear(box);
      renderGraph(box, g.nodes, g.edges, { width: 200, height: 52, gapX: 90 });
    }, function (err) {
      if (tok !== routeToken) return;
      add(clear(box), h('div', { class: 'empty error' }, 'Lineage unavailable: ' + err.message));
    });
  }

  // Nodes are (node, column) pairs: walk upstream through `sources`, and
  // downstream through the reverse index, starting from (n, col).
  function columnGraph(L, n0, col0) {
    var keys = new Map(), nodes = [], edges = [], edgeSeen = new Set();
    function key(n, c) { return n + '\u0000' + String(c).toLowerCase(); }
    function addNode(n, c) {
      var k = key(n, c);
      if (keys.has(k)) return keys.get(k);
      var nl = L.nodes[String(n)], hit = lineageColumns(L, n).get(String(c).toLowerCase());
      var name = hit ? hit.name : String(c), nd = NODES[n];
      var cls = typeClass(nd.type), status = nd.type;
      if (nl && nl.error) { cls += ' node-unknown'; status = 'unknown: ' + nl.error; }
      else if (hit && (hit.entry.kind || 'unknown') === 'unknown') { cls += ' node-unknown'; status = 'unknown' + (hit.entry.reason ? ': ' + hit.entry.reason : ''); }
      else if (hit) status = hit.entry.kind + ' · ' + nd.type;
      if (n === n0 && k === key(n0, col0)) cls += ' focus';
      var i = nodes.length;
      nodes.push({ id: nd.id, column: name, label: displayName(n), sub: name, sub2: status, cls: cls,
        title: displayName(n) + '.' + name + '\n' + status, num: n });
      keys.set(k, i);
      return i;
    }
    function addEdge(u, v, kind) {
      var ek = u + ',' + v;
      if (edgeSeen.has(ek)) return;
      edgeSeen.add(ek);
      edges.push({ u: u, v: v, cls: 'edge edge-' + (kind || 'unknown') });
    }
    if (!(n0 >= 0 && n0 < N)) return { nodes: nodes, edges: edges };
    var start = addNode(n0, col0);
    // upstream
    var stack = [[n0, col0, start]], visited = new Set([key(n0, col0)]);
    while (stack.length) {
      var cur = stack.pop(), hit = lineageColumns(L, cur[0]).get(String(cur[1]).toLowerCase());
      if (!hit) continue;
      (hit.entry.sources || []).forEach(function (sc) {
        if (!(sc[0] >= 0 && sc[0] < N)) return;
        var j = addNode(sc[0], sc[1]);
        addEdge(j, cur[2], hit.entry.kind);
        var k = key(sc[0], sc[1]);
        if (!visited.has(k)) { visited.add(k); stack.push([sc[0], sc[1], j]); }
      });
    }
    // downstream
    var rev = reverseColumns(L);
    stack = [[n0, col0, start]]; visited = new Set([key(n0, col0)]);
    while (stack.length) {
      var c2 = stack.pop();
      (rev.get(key(c2[0], c2[1])) || []).forEach(function (d) {
        if (!(d.n >= 0 && d.n < N)) return;
        var j = addNode(d.n, d.col);
        addEdge(c2[2], j, d.kind);
        var k = key(d.n, d.col);
        if (!visited.has(k)) { visited.add(k); stack.push([d.n, d.col, j]); }
      });
    }
    return { nodes: nodes, edges: edges };
  }

  /* ======================================================================
   * 8. Graph layout (layered / Sugiyama-style)
   * ==================================================================== */

  // count real nodes, edges [{u, v}]. Returns centre coordinates of real
  // nodes and an SVG path per edge. Steps: longest-path layering, dummy
  // nodes on long edges (so they route between boxes and take part in
  // ordering), barycenter sweeps for order, then y positions by isotonic
  // regression (closest to the neighbours' mean while keeping order/spacing).
  function layoutGraph(count, edges, opt) {
    var W = opt.width, H = opt.height, GX = opt.gapX || 70, GY = opt.gapY || 14;
    var succ = [], pred = [], i, j, l;
    for (i = 0; i < count; i++) { succ.push([]); pred.push([]); }
    var seen = new Set();
    edges.forEach(function (e) {
      if (e.u === e.v) return;
      var k = e.u * count + e.v;
      if (seen.has(k)) return;
      seen.add(k);
      succ[e.u].push(e.v); pred[e.v].push(e.u);
    });

    // Longest path from the roots (Kahn). Nodes on cycles keep the layer
    // reached so far; their edges that point backwards are drawn directly.
    var indeg = new Int32Array(count), layer = new Int32Array(count), queue = [];
    for (i = 0; i < count; i++) { indeg[i] = pred[i].length; if (!indeg[i]) queue.push(i); }
    for (var qh = 0; qh < queue.length; qh++) {
      var u = queue[qh];
      for (j = 0; j < succ[u].length; j++) {
        var v = succ[u][j];
        if (layer[u] + 1 > layer[v]) layer[v] = layer[u] + 1;
        if (--indeg[v] === 0) queue.push(v);
      }
    }
    var maxL = 0;
    for (i = 0; i < count; i++) if (layer[i] > maxL) maxL = layer[i];

    // Virtual graph: real nodes 0..count-1, then dummies.
    var vl = Array.from(layer), up = pred.map(function () { return []; }), down = pred.map(function () { return []; });
    var chains = [];
    for (u = 0; u < count; u++) {
      for (j = 0; j < succ[u].length; j++) {
        v = succ[u][j];
        if (layer[v] <= layer[u]) { chains.push({ back: true, nodes: [u, v] }); continue; }
        var ch = [u], prev = u;
        for (l = layer[u] + 1; l < layer[v]; l++) {
          var d = vl.length;
          vl.push(l); up.push([prev]); down.push([]); down[prev].push(d);
          ch.push(d); prev = d;
        }
        down[prev].push(v); up[v].push(prev); ch.push(v);
        chains.push({ nodes: ch });
      }
    }
    var NV = vl.length, layers = [];
    for (l = 0; l <= maxL; l++) layers.push([]);

    // Initial order: breadth-first from the previous layer, so related nodes start close.
    var placed = new Uint8Array(NV), pos = new Float64Array(NV);
    for (i = 0; i < count; i++) if (vl[i] === 0) { layers[0].push(i); placed[i] = 1; }
    for (l = 1; l <= maxL; l++) {
      var pl = layers[l - 1];
      for (i = 0; i < pl.length; i++) for (j = 0; j < down[pl[i]].length; j++) {
        var w = down[pl[i]][j];
        if (!placed[w] && vl[w] === l) { placed[w] = 1; layers[l].push(w); }
      }
    }
    for (i = 0; i < NV; i++) if (!placed[i]) layers[vl[i]].push(i);
    layers.forEach(function (L) { for (var k = 0; k < L.length; k++) pos[L[k]] = k; });

    // Barycenter sweeps, alternating down and up.
    function sweep(L, neigh) {
      var bc = new Map();
      for (var k = 0; k < L.length; k++) {
        var nb = neigh[L[k]], sum = 0;
        for (var m = 0; m < nb.length; m++) sum += pos[nb[m]];
        bc.set(L[k], nb.length ? sum / nb.length : pos[L[k]]);
      }
      L.sort(function (a, b) { return bc.get(a) - bc.get(b) || pos[a] - pos[b]; });
      for (k = 0; k < L.length; k++) pos[L[k]] = k;
    }
    for (var it = 0; it < 6; it++) {
      if (it % 2 === 0) for (l = 1; l <= maxL; l++) sweep(layers[l], up);
      else for (l = maxL - 1; l >= 0; l--) sweep(layers[l], down);
    }

    // Vertical positions.
    var y = new Float64Array(NV);
    function sep(a, b) { return a < count && b < count ? H + GY : (a < count || b < count) ? H / 2 + 8 : 10; }
    function place(L, desired) {
      var n = L.length, off = new Float64Array(n), z = new Float64Array(n), wt = new Float64Array(n);
      for (var k = 0; k < n; k++) {
        off[k] = k ? off[k - 1] + sep(L[k - 1], L[k]) : 0;
        z[k] = desired[k] - off[k];
        wt[k] = L[k] < count ? 1 : 0.5; // dummies bend more easily than boxes
      }
      // Pool-adjacent-violators: best non-decreasing fit of z.
      var bv = [], bw = [], bn = [];
      for (k = 0; k < n; k++) {
        var v2 = z[k], w2 = wt[k], c2 = 1;
        while (bv.length && bv[bv.length - 1] > v2) {
          var pv = bv.pop(), pw = bw.pop();
          v2 = (v2 * w2 + pv * pw) / (w2 + pw); w2 += pw; c2 += bn.pop();
        }
        bv.push(v2); bw.push(w2); bn.push(c2);
      }
      for (var b = 0, k2 = 0; b < bv.length; b++) for (var r = 0; r < bn[b]; r++, k2++) y[L[k2]] = bv[b] + off[k2];
    }
    function align(L, neigh) {
      var desired = L.map(function (a) {
        var nb = neigh(a);
        if (!nb.length) return y[a];
        var sum = 0;
        for (var m = 0; m < nb.length; m++) sum += y[nb[m]];
        return sum / nb.length;
      });
      place(L, desired);
    }
    layers.forEach(function (L) { // initial: stacked and centred on 0
      var tot = 0;
      for (var k = 1; k < L.length; k++) tot += sep(L[k - 1], L[k]);
      place(L, L.map(function () { return -tot / 2; }));
    });
    function upN(a) { return up[a]; }
    function downN(a) { return down[a]; }
    function bothN(a) { return up[a].concat(down[a]); }
    for (it = 0; it < 3; it++) {
      for (l = 1; l <= maxL; l++) align(layers[l], upN);
      for (l = maxL - 1; l >= 0; l--) align(layers[l], downN);
    }
    for (l = 0; l <= maxL; l++) align(layers[l], bothN);

    var X = function (a) { return vl[a] * (W + GX); };
    var minY = Infinity, maxY = -Infinity;
    for (i = 0; i < NV; i++) { if (y[i] < minY) minY = y[i]; if (y[i] > maxY) maxY = y[i]; }
    if (!NV) minY = maxY = 0;

    // Edge paths: horizontal-tangent cubic segments, straight through dummies.
    function seg(x0, y0, x1, y1) { var mx = (x0 + x1) / 2; return ' C' + mx + ' ' + y0 + ' ' + mx + ' ' + y1 + ' ' + x1 + ' ' + y1; }
    var paths = new Map();
    chains.forEach(function (c) {
      var a = c.nodes[0], b = c.nodes[c.nodes.length - 1], d;
      if (c.back) {
        d = 'M' + (X(a) + W) + ' ' + y[a] + ' C' + (X(a) + W + 80) + ' ' + y[a] + ' ' + (X(b) - 80) + ' ' + y[b] + ' ' + X(b) + ' ' + y[b];
      } else {
        var px = X(a) + W, py = y[a];
        d = 'M' + px + ' ' + py;
        for (var k = 1; k < c.nodes.length; k++) {
          var q = c.nodes[k];
          d += seg(px, py, X(q), y[q]);
          if (q >= count) { d += ' L' + (X(q) + W) + ' ' + y[q]; px = X(q) + W; py = y[q]; }
        }
      }
      paths.set(a * count + b, d);
    });
    return { x: Array.from({ length: count }, function (_, k) { return X(k); }), y: y, paths: paths,
      minX: 0, minY: minY - H / 2, width: maxL * (W + GX) + W, height: maxY - minY + H };
  }

  /* ======================================================================
   * 9. Graph rendering (SVG, pan and zoom)
   * ==================================================================== */

  function truncate(t, max) { t = String(t); return t.length > max ? t.slice(0, max - 1) + '…' : t; }

  // gnodes: [{id, column?, label, sub, sub2?, cls, title, num}], edges: [{u, v, cls}]
  function renderGraph(box, gnodes, edges, opt) {
    var W = opt.width, H = opt.height;
    var t0 = performance.now();
    var lay = layoutGraph(gnodes.length, edges, opt);
    box.dataset.layoutMs = String(Math.round(performance.now() - t0));
    var chars = Math.floor((W - 20) / 7);

    var svg = s('svg', { class: 'graph-svg', role: 'img', 'aria-label': 'lineage graph' });
    var defs = s('defs');
    ['edge', 'edge-direct', 'edge-transformed', 'edge-unknown'].forEach(function (k) {
      defs.appendChild(s('marker', { id: 'arrow-' + k, viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
        s('path', { d: 'M0 0 L10 5 L0 10 z', class: 'arrow ' + k })));
    });
    svg.appendChild(defs);
    var vp = s('g', { class: 'viewport' });
    var edgeLayer = s('g', { class: 'edges' }), nodeLayer = s('g', { class: 'nodes' });
    edges.forEach(function (e) {
      var d = lay.paths.get(e.u * gnodes.length + e.v);
      if (!d) return;
      var last = e.cls.split(' ').pop();
      edgeLayer.appendChild(s('path', { d: d, class: e.cls, 'marker-end': 'url(#arrow-' + last + ')', 'data-u': e.u, 'data-v': e.v }));
    });
    gnodes.forEach(function (g, k) {
      var x = lay.x[k], yTop = lay.y[k] - H / 2;
      var grp = s('g', { class: 'graph-node ' + g.cls, 'data-id': g.id, 'data-column': g.column, transform: 'translate(' + x + ',' + yTop + ')', tabindex: '0' },
        s('title', null, g.title || g.label),
        s('rect', { class: 'box', width: W, height: H, rx: 6 }),
        s('rect', { class: 'stripe', width: 5, height: H, rx: 2 }),
        s('text', { class: 'label', x: 14, y: 17 }, truncate(g.label, chars)),
        s('text', { class: 'sub', x: 14, y: g.sub2 ? 32 : 31 }, truncate(g.sub || '', chars + 3)),
        g.sub2 ? s('text', { class: 'sub2', x: 14, y: 45 }, truncate(g.sub2, chars + 4)) : null);
      grp.dataset.k = String(k);
      nodeLayer.appendChild(grp);
    });
    vp.appendChild(edgeLayer); vp.appendChild(nodeLayer); svg.appendChild(vp);

    var zoomIn = h('button', { type: 'button', class: 'button', title: 'Zoom in' }, '+');
    var zoomOut = h('button', { type: 'button', class: 'button', title: 'Zoom out' }, '−');
    var fitBtn = h('button', { type: 'button', class: 'button', title: 'Fit to view' }, 'fit');
    add(box, [svg, h('div', { class: 'graph-controls' }, zoomIn, zoomOut, fitBtn)]);

    // View transform; the viewport <g> gets translate(tx,ty) scale(k).
    var k = 1, tx = 0, ty = 0;
    function apply() { vp.setAttribute('transform', 'translate(' + tx + ',' + ty + ') scale(' + k + ')'); }
    function fit() {
      var r = svg.getBoundingClientRect(), pad = 24;
      var gw = lay.width + 2 * pad, gh = lay.height + 2 * pad;
      k = Math.max(0.05, Math.min((r.width || 800) / gw, (r.height || 500) / gh, 1.25));
      tx = ((r.width || 800) - lay.width * k) / 2 - lay.minX * k;
      ty = ((r.height || 500) - lay.height * k) / 2 - lay.minY * k;
      apply();
    }
    function zoomAt(px, py, f) {
      var nk = Math.max(0.03, Math.min(4, k * f));
      tx = px - (px - tx) * nk / k; ty = py - (py - ty) * nk / k; k = nk;
      apply();
    }
    // Large graphs: a whole-graph fit would be unreadably small, so start
    // zoomed in on the focus node (if any); "fit" still shows everything.
    function initialView() {
      fit();
      var f = gnodes.findIndex(function (g) { return / focus\b/.test(g.cls); });
      if (k >= 0.45 || f < 0) return;
      var r = svg.getBoundingClientRect();
      zoomAt(r.width / 2, r.height / 2, 0.85 / k);
      tx = (r.width || 800) / 2 - (lay.x[f] + W / 2) * k;
      ty = (r.height || 500) / 2 - lay.y[f] * k;
      apply();
    }
    initialView();
    fitBtn.addEventListener('click', fit);
    zoomIn.addEventListener('click', function () { var r = svg.getBoundingClientRect(); zoomAt(r.width / 2, r.height / 2, 1.25); });
    zoomOut.addEventListener('click', function () { var r = svg.getBoundingClientRect(); zoomAt(r.width / 2, r.height / 2, 0.8); });
    svg.addEventListener('wheel', function (e) {
      e.preventDefault();
      var r = svg.getBoundingClientRect();
      zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)));
    }, { passive: false });

    // Drag to pan. Pointer capture starts only after a few pixels of
    // movement so that a plain click still reaches the node under it.
    var drag = null, dragged = false;
    svg.addEventListener('pointerdown', function (e) {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, tx: tx, ty: ty, id: e.pointerId };
      dragged = false;
    });
    svg.addEventListener('pointermove', function (e) {
      if (!drag || e.pointerId !== drag.id) return;
      var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!dragged && dx * dx + dy * dy < 16) return;
      if (!dragged) { dragged = true; svg.setPointerCapture(e.pointerId); svg.classList.add('dragging'); }
      tx = drag.tx + dx; ty = drag.ty + dy;
      apply();
    });
    function endDrag() { drag = null; svg.classList.remove('dragging'); }
    svg.addEventListener('pointerup', endDrag);
    svg.addEventListener('pointercancel', endDrag);

    function openNode(el) { var g = gnodes[Number(el.dataset.k)]; if (g) location.hash = href.node(g.num); }
    svg.addEventListener('click', function (e) {
      if (dragged) { dragged = false; return; }
      var el = e.target.closest && e.target.closest('g.graph-node');
      if (el) openNode(el);
    });
    svg.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && e.target.closest && e.target.closest('g.graph-node')) openNode(e.target.closest('g.graph-node'));
    });

    // Hover: emphasise the node's edges.
    var hot = [];
    svg.addEventListener('pointerover', function (e) {
      var el = e.target.closest && e.target.closest('g.graph-node');
      hot.forEach(function (p) { p.classList.remove('hot'); });
      hot = [];
      if (!el || drag) return;
      var kk = el.dataset.k;
      hot = Array.from(edgeLayer.querySelectorAll('path[data-u="' + kk + '"],path[data-v="' + kk + '"]'));
      hot.forEach(function (p) { p.classList.add('hot'); });
    });
    return svg;
  }

  /* ======================================================================
   * 10. Start-up
   * ==================================================================== */

  setupHeader();
  setupSidebar();
  window.addEventListener('hashchange', route);
  if (!location.hash) history.replaceState(null, '', '#!/overview');
  route();
  document.documentElement.dataset.scriptMs = String(Math.round(performance.now() - T_START));
  document.documentElement.dataset.rendered = String(Math.round(performance.now()));
})();
