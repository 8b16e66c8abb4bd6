"""The page snapshot the model reads: a compact text tree with `@eN` refs on interactive elements.

The walk runs inside the page (one evaluate call). Each interactive element gets a
`data-hermes-ref` attribute the first time a snapshot sees it and keeps it while it exists, so later
snapshots of the same document repeat its number and only number new elements: a model can plan
several actions from one snapshot. A new document (navigation, reload) clears the tags; numbers keep
counting up across documents of one browser context, so a ref from an earlier page is recognisably
stale instead of silently pointing at whatever element now has the same number.
"""

from __future__ import annotations

# Arguments: [next unused ref number, id for a new document]. Returns {lines, next, refs, doc}.
SNAPSHOT_JS = r"""
([first, newDoc]) => {
  const MAX_TEXT = 200;
  const STRUCTURE = 'a[href],button,input,select,textarea,summary,[role],[contenteditable],h1,h2,h3,h4,h5,h6,img,' +
    'form,nav,main,table,ul,ol,dialog,fieldset';
  if (window.__hermesDoc === undefined) {  // a document no snapshot has seen: any tags are not ours
    document.querySelectorAll('[data-hermes-ref]').forEach(el => el.removeAttribute('data-hermes-ref'));
    window.__hermesDoc = newDoc;
  }
  let next = first;
  const seen = new Set();
  // Reuse a tag only if it is one we handed out (below `first`) and no earlier element in this walk
  // has it: a page script that cloned a tagged element must not give two elements one ref.
  const ours = ref => /^e\d+$/.test(ref || '') && Number(ref.slice(1)) < first && !seen.has(ref);
  const lines = [];
  const refs = {};
  const clean = s => (s || '').replace(/\s+/g, ' ').trim();
  const cut = s => s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) + '…' : s;
  const q = s => JSON.stringify(cut(clean(s)));
  const visible = el => {
    if (el.hidden || el.getAttribute('aria-hidden') === 'true') return false;
    if (el.checkVisibility) return el.checkVisibility({visibilityProperty: true});
    const st = getComputedStyle(el);
    return st.display !== 'none' && st.visibility !== 'hidden';
  };
  const labelText = label => {  // a wrapping label's text without the control's own (select options)
    const copy = label.cloneNode(true);
    copy.querySelectorAll('select, textarea, button, datalist').forEach(n => n.remove());
    return copy.textContent;
  };
  const labelOf = el => {
    const aria = el.getAttribute('aria-label');
    if (aria) return aria;
    const by = el.getAttribute('aria-labelledby');
    if (by) { const t = by.split(/\s+/).map(id => document.getElementById(id)).filter(Boolean)
                 .map(n => n.innerText).join(' '); if (clean(t)) return t; }
    if (el.labels && el.labels.length) return Array.from(el.labels).map(labelText).join(' ');
    return el.getAttribute('placeholder') || el.getAttribute('title') || el.getAttribute('name') || '';
  };
  const roleOf = el => {
    const tag = el.tagName.toLowerCase();
    const role = el.getAttribute('role');
    if (role && ['button', 'link', 'checkbox', 'radio', 'tab', 'menuitem', 'switch', 'textbox',
                 'combobox', 'option'].includes(role)) return role;
    if (tag === 'a' && el.hasAttribute('href')) return 'link';
    if (tag === 'button') return 'button';
    if (tag === 'select') return 'combobox';
    if (tag === 'textarea') return 'textbox';
    if (tag === 'summary') return 'button';
    if (tag === 'input') {
      const type = (el.getAttribute('type') || 'text').toLowerCase();
      if (type === 'hidden') return null;
      if (['submit', 'button', 'reset', 'image'].includes(type)) return 'button';
      if (type === 'checkbox' || type === 'radio') return type;
      if (type === 'range') return 'slider';
      return type === 'search' ? 'searchbox' : 'textbox';
    }
    if (el.isContentEditable && !el.parentElement?.isContentEditable) return 'textbox';
    return null;
  };
  const ownText = el => clean(Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join(' '));
  const walk = (el, depth) => {
    if (!(el instanceof Element)) return;
    const tag = el.tagName.toLowerCase();
    if (['script', 'style', 'noscript', 'template', 'head', 'svg', 'iframe'].includes(tag)) return;
    if (!visible(el)) return;
    const pad = '  '.repeat(depth);
    const role = roleOf(el);
    if (role) {
      let ref = el.getAttribute('data-hermes-ref');
      if (!ours(ref)) { ref = 'e' + next++; el.setAttribute('data-hermes-ref', ref); }
      seen.add(ref);
      let name = role === 'link' || role === 'button' || role === 'option'
        ? (el.getAttribute('aria-label') || el.innerText || el.value || el.getAttribute('title') || '')
        : labelOf(el);
      if (!clean(name) && tag === 'input' && el.type === 'image') name = el.alt || '';
      if (!clean(name) && role === 'link') { const img = el.querySelector('img[alt]'); if (img) name = img.alt; }
      let extra = '';
      if (role === 'textbox' || role === 'searchbox') {
        const value = el.isContentEditable ? el.innerText : el.value;
        if (value) extra += ' value=' + q(value);
      }
      if (role === 'combobox' && el.options) {
        const sel = el.options[el.selectedIndex];
        extra += ' value=' + q(sel ? sel.text : '');
        extra += ' options=' + q(Array.from(el.options).map(o => o.text).join(' | '));
      }
      if ((role === 'checkbox' || role === 'radio') && el.checked) extra += ' [checked]';
      if (el.disabled) extra += ' [disabled]';
      if (role === 'link') extra += ' -> ' + (el.getAttribute('href') || '').slice(0, 120);
      lines.push(pad + role + ' ' + q(name) + extra + ' @' + ref);
      refs[ref] = role + ' ' + q(name);
      return;  // the name already says what is inside
    }
    let childDepth = depth;
    const h = /^h([1-6])$/.exec(tag);
    if (h) { lines.push(pad + 'heading ' + q(el.innerText) + ' [level=' + h[1] + ']'); return; }
    if (tag === 'img') {
      const alt = el.getAttribute('alt');
      if (alt) lines.push(pad + 'img ' + q(alt));
      return;
    }
    if (['form', 'nav', 'main', 'table', 'ul', 'ol', 'dialog', 'fieldset'].includes(tag)) {
      const name = tag === 'fieldset' ? (el.querySelector('legend')?.innerText || '') : (el.getAttribute('aria-label') || '');
      lines.push(pad + tag + (clean(name) ? ' ' + q(name) : '') + ':');
      childDepth = depth + 1;
    } else if (tag === 'label' && el.control) {
      // The control it labels carries the same name: say nothing, but walk into a wrapping label.
      if (!el.contains(el.control)) return;
    } else if (!el.querySelector(STRUCTURE)) {
      // Plain text block (paragraph, cell, div of text): one line with all of it, children included.
      const text = clean(el.innerText);
      if (text && tag !== 'legend') lines.push(pad + (tag === 'li' ? '- ' : tag === 'label' ? 'label ' : '') + q(text));
      return;
    } else {
      const text = ownText(el);
      if (text && tag !== 'legend') {
        const kind = tag === 'li' ? '- ' : tag === 'label' ? 'label ' : '';
        lines.push(pad + kind + q(text));
      }
    }
    for (const child of el.children) walk(child, childDepth);
    if (el.shadowRoot) for (const child of el.shadowRoot.children) walk(child, childDepth);
  };
  walk(document.body || document.documentElement, 0);
  return {lines, next, refs, doc: window.__hermesDoc};
}
"""

IMAGES_JS = r"""
(limit) => Array.from(document.images).filter(img => img.src).slice(0, limit).map(img => ({
  src: img.currentSrc || img.src, alt: img.alt || '', width: img.naturalWidth, height: img.naturalHeight,
}))
"""

# [ref, document id] -> "ok" | "navigated" | "missing" | "copied" (a page script cloned the element)
REF_STATE_JS = r"""
([ref, doc]) => {
  if (window.__hermesDoc !== doc) return 'navigated';
  const n = document.querySelectorAll('[data-hermes-ref="' + ref + '"]').length;
  return n === 0 ? 'missing' : n === 1 ? 'ok' : 'copied';
}
"""
