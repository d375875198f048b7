// A small, safe markdown renderer for model replies: markdown text -> an HTML string.
// Safety rule: the input is HTML-escaped FIRST, so no tag or attribute from the model survives; the only
// markup in the output is what this file writes. Links are kept only for http(s) URLs (no javascript:,
// data:, relative URLs). Supported: fenced code blocks (```lang), inline code, **bold**, *italic* /
// _italic_, ~~strike~~, headings (#..######), bullet and numbered lists (one level), block quotes,
// horizontal rules, paragraphs with line breaks. Unclosed fences (mid-stream) render as code so far.
// Loaded as a classic script in the page (global `vkaiMarkdown`) and with `require`-less eval in tests.
(function (root) {
  'use strict';

  function escapeHtml(s) {
    return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
  }

  // Emphasis on escaped text without code spans or links.
  function emphasis(s) {
    s = s.replace(/\*\*([^*\n]+?)\*\*/g, '<strong>$1</strong>');
    s = s.replace(/__([^_\n]+?)__/g, '<strong>$1</strong>');
    s = s.replace(/~~([^~\n]+?)~~/g, '<del>$1</del>');
    s = s.replace(/(^|[^*\w])\*([^*\s](?:[^*\n]*[^*\s])?)\*(?![*\w])/g, '$1<em>$2</em>');
    return s.replace(/(^|[^_\w])_([^_\s](?:[^_\n]*[^_\s])?)_(?![_\w])/g, '$1<em>$2</em>');
  }

  // Inline markup on one escaped line. Code spans and links are cut out first (placeholders
  // \u0001N\u0002) so that code is never formatted and emphasis never lands inside an href.
  function inline(escaped) {
    const held = [];
    const hold = (html) => { held.push(html); return '\u0001' + (held.length - 1) + '\u0002'; };
    let s = escaped.replace(/`([^`]+)`/g, (m, code) => hold('<code>' + code + '</code>'));
    // [text](http(s)://url): the URL is already escaped text, so it cannot break out of the attribute.
    s = s.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s()\u0001\u0002]+)\)/g, (m, text, url) =>
      hold('<a href="' + url + '" rel="noopener noreferrer" target="_blank">' + emphasis(text) + '</a>'));
    // A placeholder inside link text (a code span) is restored by the second pass.
    return emphasis(s).replace(/\u0001(\d+)\u0002/g, (m, i) => held[Number(i)])
      .replace(/\u0001(\d+)\u0002/g, (m, i) => held[Number(i)]);
  }

  const FENCE = /^\s*(```|~~~)\s*([\w+#.-]*)\s*$/;
  const BULLET = /^\s*[-*+]\s+(.*)$/;
  const NUMBERED = /^\s*(\d{1,9})[.)]\s+(.*)$/;
  const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
  const RULE = /^\s*([-*_])(\s*\1){2,}\s*$/;
  const QUOTE = /^\s*&gt;\s?(.*)$/;

  function render(markdown) {
    // \u0001 and \u0002 are the code-span placeholders: never let the input contain them.
    const text = escapeHtml(String(markdown).replace(/[\u0001\u0002]/g, ''));
    const lines = text.split(/\r?\n/);
    const out = [];
    let para = [];
    let list = null; // {tag: 'ul'|'ol', items: [...], start}

    const flushPara = () => {
      if (para.length) out.push('<p>' + para.map(inline).join('<br>') + '</p>');
      para = [];
    };
    const flushList = () => {
      if (!list) return;
      const start = list.tag === 'ol' && list.start !== 1 ? ' start="' + list.start + '"' : '';
      out.push('<' + list.tag + start + '>' + list.items.map((i) => '<li>' + inline(i) + '</li>').join('') +
        '</' + list.tag + '>');
      list = null;
    };
    const flush = () => { flushPara(); flushList(); };

    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const fence = FENCE.exec(line);
      if (fence) {
        flush();
        const body = [];
        let j = i + 1;
        while (j < lines.length && !(lines[j].trim().startsWith(fence[1]) && FENCE.test(lines[j]))) body.push(lines[j++]);
        const lang = fence[2] ? ' class="language-' + fence[2] + '"' : '';
        out.push('<pre><code' + lang + '>' + body.join('\n') + '</code></pre>');
        i = j; // the closing fence (or past the end when the reply is still streaming)
        continue;
      }
      if (line.trim() === '') { flush(); continue; }
      let m;
      if ((m = HEADING.exec(line))) {
        flush();
        out.push('<h' + m[1].length + '>' + inline(m[2]) + '</h' + m[1].length + '>');
      } else if (RULE.test(line)) {
        flush();
        out.push('<hr>');
      } else if ((m = BULLET.exec(line)) || (m = NUMBERED.exec(line))) {
        flushPara();
        const tag = BULLET.test(line) ? 'ul' : 'ol';
        if (list && list.tag !== tag) flushList();
        if (!list) list = { tag, items: [], start: tag === 'ol' ? Number(m[1]) : 1 };
        list.items.push(tag === 'ul' ? m[1] : m[2]);
      } else if ((m = QUOTE.exec(line))) {
        flush();
        const quoted = [m[1]];
        while (i + 1 < lines.length && QUOTE.test(lines[i + 1])) quoted.push(QUOTE.exec(lines[++i])[1]);
        out.push('<blockquote><p>' + quoted.map(inline).join('<br>') + '</p></blockquote>');
      } else if (list && /^\s{2,}\S/.test(line)) {
        list.items[list.items.length - 1] += ' ' + line.trim(); // continuation of a list item
      } else {
        flushList();
        para.push(line);
      }
    }
    flush();
    return out.join('\n');
  }

  root.vkaiMarkdown = { render, escapeHtml };
})(typeof window !== 'undefined' ? window : globalThis);
