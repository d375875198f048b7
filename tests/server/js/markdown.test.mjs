// Unit tests of the page's markdown renderer (src/server/web/markdown.js): markup, and above all
// safety (no HTML from the input survives, links only for http(s)). No server needed.
// Usage: node markdown.test.mjs (run from the repository root).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import vm from 'node:vm';

const ctx = {};
vm.runInNewContext(fs.readFileSync('src/server/web/markdown.js', 'utf8'), ctx);
const { render } = ctx.vkaiMarkdown;

const cases = [
  ['plain paragraph', 'Hello world', '<p>Hello world</p>'],
  ['line break inside a paragraph', 'a\nb', '<p>a<br>b</p>'],
  ['two paragraphs', 'a\n\nb', '<p>a</p>\n<p>b</p>'],
  ['bold and italic', '**bold** and *it* and _it2_', '<p><strong>bold</strong> and <em>it</em> and <em>it2</em></p>'],
  ['snake_case is not italic', 'a_b_c and 2*3*4', '<p>a_b_c and 2*3*4</p>'],
  ['inline code is not formatted', 'use `**x**` here', '<p>use <code>**x**</code> here</p>'],
  ['fenced code with language', '```js\nlet a = 1 < 2;\n```', '<pre><code class="language-js">let a = 1 &lt; 2;</code></pre>'],
  ['unclosed fence while streaming', 'x\n```\ncode', '<p>x</p>\n<pre><code>code</code></pre>'],
  ['bullet list', '- a\n- **b**', '<ul><li>a</li><li><strong>b</strong></li></ul>'],
  ['numbered list keeps its start', '3. c\n4. d', '<ol start="3"><li>c</li><li>d</li></ol>'],
  ['heading', '## Title', '<h2>Title</h2>'],
  ['block quote', '> q', '<blockquote><p>q</p></blockquote>'],
  ['rule', '---', '<hr>'],
  ['http link', '[site](https://example.com/a_b_c?x=1&y=2)',
    '<p><a href="https://example.com/a_b_c?x=1&amp;y=2" rel="noopener noreferrer" target="_blank">site</a></p>'],
  ['javascript: link is text', '[x](javascript:alert(1))', '<p>[x](javascript:alert(1))</p>'],
  ['data: link is text', '[x](data:text/html,hi)', '<p>[x](data:text/html,hi)</p>'],
  ['raw HTML is escaped', '<script>alert(1)</script><img src=x onerror=alert(1)>',
    '<p>&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</p>'],
  ['quotes cannot leave the href', '[x](https://a.com/"onmouseover="alert)',
    '<p><a href="https://a.com/&quot;onmouseover=&quot;alert" rel="noopener noreferrer" target="_blank">x</a></p>'],
  ['no code span inside an href', '[x](https://a.com/`1`)', '<p>[x](https://a.com/<code>1</code>)</p>'],
  ['placeholder characters in the input are dropped', 'a\u00010\u0002b `c`', '<p>a0b <code>c</code></p>'],
  ['HTML inside code is escaped', '`<b>`', '<p><code>&lt;b&gt;</code></p>'],
];

let failed = 0;
for (const [name, input, want] of cases) {
  try {
    assert.equal(render(input), want);
    console.log('ok   ' + name);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: got ${JSON.stringify(render(input))}, want ${JSON.stringify(want)}`);
  }
}
// Whatever the input, no tag other than the renderer's own may appear in the output.
const ALLOWED = /^<\/?(p|br|strong|em|del|code|pre|ul|ol|li|h[1-6]|blockquote|hr|a)( [^>]*)?>$/;
const nasty = ['<', '>', '"', "'", '&', '*', '_', '`', '[', ']', '(', ')', 'https://x', 'javascript:', '\n', '#', '-', ' ', 'a', '<svg onload=1>', '```'];
let seed = 12345;
const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
for (let i = 0; i < 3000; i++) {
  let s = '';
  for (let k = rand(30); k > 0; k--) s += nasty[rand(nasty.length)];
  const out = render(s);
  for (const tag of out.match(/<[^>]*>/g) || []) {
    if (!ALLOWED.test(tag) || (/^<a /.test(tag) && !/^<a href="https?:\/\/[^"<>]*" rel="noopener noreferrer" target="_blank">$/.test(tag))) {
      failed++;
      console.log(`FAIL fuzz: input ${JSON.stringify(s)} gave tag ${tag}`);
      break;
    }
  }
  if (failed > 5) break;
}
console.log(`${cases.length} cases + fuzz, ${failed} failed`);
process.exit(failed ? 1 : 0);
