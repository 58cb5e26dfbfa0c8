// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // The organisation switcher submits on change and returns to this page.
  for (const el of document.querySelectorAll("[data-current-path]")) el.value = location.pathname;
  for (const sel of document.querySelectorAll("select[data-autosubmit]")) {
    sel.addEventListener("change", () => sel.form.submit());
  }
  // Ask before destructive actions.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => { if (!confirm(form.dataset.confirm)) e.preventDefault(); });
  }
  // "Back" links on error pages (the CSP forbids javascript: URLs); without
  // script, or with no page to return to, they lead home.
  for (const a of document.querySelectorAll("a[data-back]")) {
    a.addEventListener("click", (e) => {
      if (history.length > 1) { e.preventDefault(); history.back(); }
    });
  }
  // The live alert queue: a banner counts what arrived since the page loaded.
  const live = document.querySelector("[data-live]");
  if (live && window.EventSource) {
    let created = 0, repeats = 0;
    const source = new EventSource(live.dataset.live);
    const show = (text) => { live.querySelector("span").textContent = text; live.hidden = false; };
    source.addEventListener("alerts", (e) => {
      const d = JSON.parse(e.data);
      created += d.created; repeats += d.duplicates;
      show(`${created} new alert(s), ${repeats} repeat sighting(s) since this page loaded.`);
    });
    source.addEventListener("lagged", () => show("Many alerts arrived."));
  }
  // Keyboard navigation of lists marked data-keynav: j/k move, Enter opens,
  // "/" focuses the search box, "?" toggles the help (documented on the page).
  const list = document.querySelector("table[data-keynav]");
  const help = document.querySelector("#keyboard-help");
  if (list || help) {
    const rows = list ? Array.from(list.querySelectorAll("tbody tr")) : [];
    let at = -1;
    const move = (to) => {
      if (!rows.length) return;
      if (at >= 0) rows[at].classList.remove("current");
      at = Math.max(0, Math.min(rows.length - 1, to));
      rows[at].classList.add("current");
      rows[at].scrollIntoView({ block: "nearest" });
      rows[at].querySelector("a")?.focus({ preventScroll: true });
    };
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target;
      if (t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
        if (e.key === "Escape") t.blur();
        return;
      }
      if (e.key === "j") { move(at + 1); e.preventDefault(); }
      else if (e.key === "k") { move(at - 1); e.preventDefault(); }
      else if (e.key === "Enter" && at >= 0) {
        const a = rows[at].querySelector("a");
        if (a && document.activeElement !== a) { e.preventDefault(); a.click(); }
      } else if (e.key === "/") {
        const q = document.querySelector("#q");
        if (q) { e.preventDefault(); q.focus(); q.select(); }
      } else if (e.key === "?" && help) { help.open = !help.open; }
    });
  }
  // Copy buttons.
  for (const btn of document.querySelectorAll("button[data-copy]")) {
    btn.addEventListener("click", () => {
      const text = document.querySelector(btn.dataset.copy)?.textContent ?? "";
      navigator.clipboard?.writeText(text).then(() => { btn.textContent = "Copied"; });
    });
  }
  // Keyboard shortcuts: an element with data-key="x" takes the focus on "x"
  // (outside text fields); "?" shows the help. Pages list them (incident page).
  const shortcutHelp = document.getElementById("shortcut-help");
  for (const a of document.querySelectorAll("a[data-help]")) {
    a.addEventListener("click", (e) => { e.preventDefault(); if (shortcutHelp) shortcutHelp.hidden = !shortcutHelp.hidden; });
  }
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    if (e.key === "?" && shortcutHelp) { shortcutHelp.hidden = !shortcutHelp.hidden; e.preventDefault(); return; }
    const el = document.querySelector(`[data-key="${CSS.escape(e.key)}"]`);
    if (el) { el.focus(); el.scrollIntoView({ block: "center" }); e.preventDefault(); }
  });
});

// Playbooks: load a chosen file into the import form; follow a running run live.
document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[type=file][data-load-into]")) {
    input.addEventListener("change", async () => {
      const file = input.files[0];
      if (file) document.querySelector(input.dataset.loadInto).value = await file.text();
    });
  }
  const live = document.querySelector("[data-poll]");
  if (live) {
    const tick = async () => {
      try {
        const r = await fetch(live.dataset.poll, { credentials: "same-origin" });
        if (r.ok) {
          const d = await r.json();
          const sig = `${d.status}:${d.records.map((x) => x.status).join(",")}:${d.tasks.map((t) => t.status).join(",")}`;
          if (sig !== live.dataset.signature && !document.activeElement?.matches("input, textarea")) { location.reload(); return; }
        }
      } catch (_) { /* try again */ }
      setTimeout(tick, 1000);
    };
    setTimeout(tick, 1000);
  }
});
