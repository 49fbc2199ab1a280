/**
 * A strict-enough XML well-formedness check for the generated SVG (tags balanced and properly nested,
 * attributes quoted, entities known) — no XML parser is installed, and the SVG is simple.
 * Returns true, or a message naming the first problem.
 */
export function wellFormedXml(xml: string): true | string {
  const stack: string[] = [];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|&(?!(?:lt|gt|amp|quot|apos);)/g;
  for (let m = token.exec(xml); m !== null; m = token.exec(xml)) {
    if (m[0] === '<') return `stray "<" at ${m.index}`;
    if (m[0] === '&') return `unknown entity at ${m.index}`;
    const [, closing, name = '', , selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      if (open !== name) return `</${name}> closes <${String(open)}> at ${m.index}`;
    } else if (!selfClosing) stack.push(name);
  }
  return stack.length === 0 ? true : `unclosed <${stack.join('>, <')}>`;
}
