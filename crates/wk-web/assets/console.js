// Watchkeeper console: live updates (server-sent events), keyboard, sound. First-party, no
// eval, no inline code (the CSP allows only this file). Every HTML fragment inserted here was
// rendered and escaped by the server's templates; alert text never passes through innerHTML
// as plain data.
(() => {
  'use strict';
  const body = document.body;
  const page = body.dataset.page;
  const csrf = (document.querySelector('meta[name="csrf"]') || {}).content || '';
  const liveState = document.getElementById('live-state');

  function setLive(text, ok) {
    if (!liveState) return;
    liveState.textContent = text;
    liveState.classList.toggle('ok', ok);
    liveState.classList.toggle('bad', !ok);
  }

  function flash(text) {
    let box = document.getElementById('flash');
    if (!box) {
      box = document.createElement('div');
      box.id = 'flash';
      box.className = 'flash';
      box.setAttribute('role', 'status');
      body.appendChild(box);
    }
    box.textContent = text;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(() => box.remove(), 6000);
  }

  function fragment(html) {
    const template = document.createElement('template');
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // ---- relative ages --------------------------------------------------------------------
  function age(ms) {
    const minutes = Math.max(0, Math.floor(ms / 60000));
    if (minutes === 0) return 'just now';
    if (minutes < 60) return minutes + ' min ago';
    if (minutes < 1440) return Math.floor(minutes / 60) + ' h ' + (minutes % 60) + ' min ago';
    return Math.floor(minutes / 1440) + ' d ' + Math.floor((minutes % 1440) / 60) + ' h ago';
  }
  function refreshAges() {
    const now = Date.now();
    document.querySelectorAll('time[data-age]').forEach((t) => {
      t.textContent = age(now - Number(t.dataset.age));
    });
  }
  setInterval(refreshAges, 30000);

  // ---- server-sent events with resumption -----------------------------------------------
  // The browser resumes by itself with Last-Event-ID; when the server ends the stream we
  // reconnect from the last change seen. `after` is where this page's content stands.
  function follow(url, root, handlers) {
    let source = null;
    let retry = 1000;
    const state = { seq: root.dataset.seq || '0' };
    function open() {
      const address = new URL(url, location.href);
      address.searchParams.set('after', state.seq);
      source = new EventSource(address);
      source.onopen = () => { setLive('live', true); retry = 1000; };
      source.onerror = () => {
        setLive('reconnecting…', false);
        if (source.readyState === EventSource.CLOSED) {
          setTimeout(open, retry);
          retry = Math.min(retry * 2, 30000);
        }
      };
      Object.entries(handlers).forEach(([name, handle]) => {
        source.addEventListener(name, (event) => {
          if (event.lastEventId) state.seq = event.lastEventId;
          handle(JSON.parse(event.data));
        });
      });
      source.addEventListener('signed-out', () => {
        source.close();
        location.assign(new URL((page === 'alert' ? '../' : '') + 'sign-in', location.href));
      });
    }
    open();
    return {
      restart(seq) { state.seq = String(seq); source.close(); open(); },
      close() { source.close(); },
    };
  }

  // ---- sound ----------------------------------------------------------------------------
  // Repeats while an unacknowledged critical or emergency alert is in view; browsers let a
  // page play sound only after a click, hence "Arm sound" at the start of a shift.
  const sound = { context: null, muted: false, beeps: 0 };
  function alarming() {
    return document.querySelector('#rows tr[data-alarm="1"]') !== null;
  }
  function beep() {
    const ctx = sound.context;
    [0, 0.35].forEach((offset) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.25, ctx.currentTime + offset);
      gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + offset + 0.3);
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + offset);
      osc.stop(ctx.currentTime + offset + 0.3);
    });
    sound.beeps += 1;
    body.dataset.beeps = String(sound.beeps);
  }
  function soundTick() {
    const on = alarming();
    body.dataset.alarm = on ? '1' : '0';
    const text = document.getElementById('sound-state');
    if (text) {
      text.textContent = !sound.context ? 'Sound not armed'
        : sound.muted ? 'Sound muted' : on ? 'Sounding: unacknowledged critical alert' : 'Sound armed';
    }
    if (on && sound.context && !sound.muted) beep();
  }

  // ---- the board ------------------------------------------------------------------------
  function boardPage() {
    const board = document.getElementById('board');
    const rows = document.getElementById('rows');
    if (!board || !rows) return;
    let selected = null; // the selected alert id, kept across updates

    function rowsList() { return Array.from(rows.querySelectorAll('tr[data-id]')); }
    function select(tr) {
      rowsList().forEach((r) => { r.classList.remove('selected'); r.removeAttribute('aria-selected'); });
      if (!tr) { selected = null; return; }
      tr.classList.add('selected');
      tr.setAttribute('aria-selected', 'true');
      selected = tr.dataset.id;
      tr.scrollIntoView({ block: 'nearest' });
    }
    function current() {
      return selected ? document.getElementById('alert-' + selected) : null;
    }
    function updateTitle(unacknowledged) {
      const base = 'Board · Watchkeeper';
      document.title = unacknowledged > 0 ? '(' + unacknowledged + ') ' + base : base;
    }
    function emptyNote() {
      const note = document.getElementById('empty');
      if (note) note.hidden = rowsList().length > 0;
    }
    function place(tr, sev, at) {
      const before = rowsList().find((r) => r !== tr && (Number(r.dataset.sev) < sev
        || (Number(r.dataset.sev) === sev && Number(r.dataset.at) < at)));
      if (before) rows.insertBefore(tr, before); else rows.appendChild(tr);
    }
    // A changed row is brought up to date in place, cell by cell, and only the cells that
    // changed are replaced: text an officer selected, or a box ticked, in an unchanged cell
    // stays as it was. Returns the row now on the board.
    function refresh(old, fresh) {
      const carryBox = (from, to) => {
        const box = from.querySelector('input[type="checkbox"]');
        const freshBox = to.querySelector('input[type="checkbox"]');
        if (box && freshBox) freshBox.checked = box.checked;
      };
      if (old.children.length !== fresh.children.length) {
        carryBox(old, fresh);
        old.replaceWith(fresh);
        return fresh;
      }
      Array.from(fresh.children).forEach((cell, at) => {
        const was = old.children[at];
        if (was.isEqualNode(cell)) return;
        carryBox(was, cell);
        old.replaceChild(cell, was);
      });
      old.getAttributeNames().forEach((name) => { if (!fresh.hasAttribute(name)) old.removeAttribute(name); });
      fresh.getAttributeNames().forEach((name) => old.setAttribute(name, fresh.getAttribute(name)));
      return old;
    }
    function upsert(change) {
      const old = document.getElementById('alert-' + change.id);
      const fresh = old ? refresh(old, fragment(change.html)) : fragment(change.html);
      const list = rowsList();
      const at = list.indexOf(fresh);
      const prev = list[at - 1];
      const next = list[at + 1];
      const key = (r) => [Number(r.dataset.sev), Number(r.dataset.at)];
      const after = (a, b) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]); // a sorts after b
      const misplaced = at < 0 || (prev && after(key(prev), key(fresh)))
        || (next && after(key(fresh), key(next)));
      if (misplaced) place(fresh, change.sev, change.at);
      if (change.id === selected) select(fresh);
      emptyNote();
    }
    function remove(change) {
      const old = document.getElementById('alert-' + change.id);
      if (old) old.remove();
      if (change.id === selected) selected = null;
      emptyNote();
    }
    function tiles(change) {
      const old = document.getElementById('tiles');
      if (old) old.replaceWith(fragment(change.html));
      updateTitle(change.unacknowledged);
    }
    // The whole list again (the stream could not resume: the console restarted, or this page
    // fell behind). Rows still on the board are brought up to date in place, as a live change
    // is, and stay where they stand when the order allows: text an officer selected, or a box
    // ticked, in an unchanged cell stays as it was. Rows gone leave; new ones come in; the
    // board ends in the server's order.
    async function reload() {
      const response = await fetch(board.dataset.rows, { headers: { 'X-Requested-With': 'watchkeeper' } });
      if (!response.ok) { location.reload(); return; }
      const data = await response.json();
      const template = document.createElement('template');
      template.innerHTML = data.rows.trim();
      const fresh = Array.from(template.content.querySelectorAll('tr[data-id]'));
      const wanted = new Set(fresh.map((tr) => tr.id));
      rowsList().forEach((tr) => { if (!wanted.has(tr.id)) tr.remove(); });
      const following = (tr) => {
        let next = tr.nextElementSibling;
        while (next && !next.matches('tr[data-id]')) next = next.nextElementSibling;
        return next;
      };
      let cursor = rows.querySelector('tr[data-id]');
      fresh.forEach((tr) => {
        const old = document.getElementById(tr.id);
        const inPlace = old !== null && old === cursor;
        const row = old ? refresh(old, tr) : tr;
        if (inPlace) cursor = following(row);
        else rows.insertBefore(row, cursor);
      });
      tiles({ html: data.tiles, unacknowledged: data.unacknowledged });
      if (selected) select(current());
      emptyNote();
      stream.restart(data.seq);
    }
    const stream = follow(board.dataset.events, board, { row: upsert, gone: remove, tiles, reload });

    async function post(url, fields) {
      const form = new URLSearchParams(fields);
      form.set('csrf', csrf);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'X-Requested-With': 'watchkeeper', 'X-CSRF-Token': csrf },
        body: form,
      });
      let message = response.ok ? 'Recorded.' : 'Not recorded.';
      try { message = (await response.json()).message || message; } catch (_) { /* not JSON */ }
      flash(message);
      return response.ok;
    }
    function act(action) {
      const tr = current();
      if (!tr) { flash('Select an alert first (j / k).'); return; }
      const title = tr.querySelector('td.title a').textContent;
      if (action === 'resolve' && !window.confirm('Resolve "' + title + '"?')) return;
      post('alerts/' + tr.dataset.id + '/' + action, { incident: tr.dataset.incident });
    }

    const bulk = document.getElementById('bulk');
    if (bulk) {
      bulk.addEventListener('submit', async (event) => {
        event.preventDefault();
        const picked = Array.from(document.querySelectorAll('input[name="alert"]:checked'));
        if (picked.length === 0) { flash('Select alerts first (x, or their boxes).'); return; }
        const form = new URLSearchParams();
        picked.forEach((b) => form.append('alert', b.value));
        if (await post('bulk-acknowledge', form)) picked.forEach((b) => { b.checked = false; });
      });
    }
    rows.addEventListener('click', (event) => {
      const tr = event.target.closest('tr[data-id]');
      if (tr && !event.target.closest('a, input')) select(tr);
    });

    const help = document.getElementById('help');
    const helpOpen = document.getElementById('help-open');
    if (helpOpen && help) helpOpen.addEventListener('click', () => help.showModal());

    document.addEventListener('keydown', (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.target.closest('input, textarea, select, dialog')) return;
      const list = rowsList();
      const index = list.findIndex((r) => r.dataset.id === selected);
      switch (event.key) {
        case 'j': select(list[Math.min(index + 1, list.length - 1)] || null); break;
        case 'k': select(list[Math.max(index - 1, 0)] || null); break;
        case 'Enter': { const tr = current(); if (tr) tr.querySelector('td.title a').click(); break; }
        case 'x': { const box = current() && current().querySelector('input[type="checkbox"]'); if (box) box.checked = !box.checked; break; }
        case 'a': act('acknowledge'); break;
        case 'r': act('resolve'); break;
        case '?': if (help) help.showModal(); break;
        default: return;
      }
      event.preventDefault();
    });

    const arm = document.getElementById('sound-arm');
    const mute = document.getElementById('sound-mute');
    if (arm && mute) {
      arm.addEventListener('click', () => {
        sound.context = sound.context || new AudioContext();
        sound.context.resume();
        arm.hidden = true;
        mute.hidden = false;
        soundTick();
      });
      mute.addEventListener('click', () => {
        sound.muted = !sound.muted;
        mute.setAttribute('aria-pressed', String(sound.muted));
        mute.textContent = sound.muted ? 'Unmute' : 'Mute';
        soundTick();
      });
    }
    setInterval(soundTick, 4000);
    soundTick();
  }

  // ---- the alert page -------------------------------------------------------------------
  function alertPage() {
    const root = document.getElementById('alert-page');
    const live = document.getElementById('live');
    if (!root || !live) return;
    follow(root.dataset.events, root, {
      detail(change) { live.innerHTML = change.html; },
      reload() { location.reload(); },
    });
    document.addEventListener('keydown', (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.target.closest('input, textarea, select')) return;
      const click = (id) => { const b = document.getElementById(id); if (b) b.click(); };
      if (event.key === 'a') { click('acknowledge'); event.preventDefault(); }
      if (event.key === 'r' && window.confirm('Resolve this alert?')) { click('resolve'); event.preventDefault(); }
    });
  }

  // ---- the offices page -----------------------------------------------------------------
  // The whole table comes again, rendered for this person, whenever a watch changes. A row
  // whose form is being used (focused, or a reason typed) keeps its form: only its other
  // cells and its state are brought up to date.
  function officesPage() {
    const root = document.getElementById('offices-page');
    const holder = document.getElementById('offices');
    if (!root || !holder) return;
    const inUse = (tr) => tr.contains(document.activeElement)
      || Array.from(tr.querySelectorAll('input[name="reason"]')).some((input) => input.value !== '');
    function apply(html) {
      const fresh = fragment(html);
      const old = holder.querySelector('table');
      if (!fresh || !old) return;
      const freshRows = Array.from(fresh.querySelectorAll('tr[data-office]'));
      const oldRows = Array.from(old.querySelectorAll('tr[data-office]'));
      const same = freshRows.length === oldRows.length
        && freshRows.every((tr, index) => tr.dataset.office === oldRows[index].dataset.office);
      if (!same) { old.replaceWith(fresh); return; }
      // Row by row, in place, so the row in use keeps its focus and its typed text.
      freshRows.forEach((tr, index) => {
        const before = oldRows[index];
        if (!inUse(before)) { before.replaceWith(tr); return; }
        const cells = Array.from(tr.children).slice(0, -1);
        cells.forEach((cell, at) => before.replaceChild(cell, before.children[at]));
        before.className = tr.className;
      });
    }
    follow(root.dataset.events, root, { offices(change) { apply(change.html); } });
  }

  // ---- a headcount's page ---------------------------------------------------------------
  // While it is open, its counts and its people are fetched again every 10 seconds (answers
  // come in over minutes, not milliseconds); the close form is left alone.
  function headcountPage() {
    const root = document.getElementById('headcount-page');
    if (!root || root.dataset.live !== 'yes') return;
    const refresh = async () => {
      try {
        const response = await fetch(window.location.href, { credentials: 'same-origin' });
        if (!response.ok) return;
        const fresh = new DOMParser().parseFromString(await response.text(), 'text/html');
        for (const id of ['counts', 'people']) {
          const now = fresh.getElementById(id);
          const old = document.getElementById(id);
          if (now && old) old.replaceWith(now);
        }
      } catch (error) {
        // The next refresh tries again.
      }
    };
    window.setInterval(refresh, 10000);
  }

  if (page === 'board') boardPage();
  if (page === 'headcounts') headcountPage();
  if (page === 'alert') alertPage();
  if (page === 'offices') officesPage();
})();
