// A small markdown subset, built as DOM nodes from untrusted text (model output,
// document titles): text nodes and elements only, never parsed as HTML. Paragraphs, line breaks, **bold**, *italic*,
// `code`, fenced code blocks, "-"/"*"/"1." lists, headings (shown as bold lines) and
// [links](https://...) with rel="noopener noreferrer". Images are never loaded: an
// image's alt text is shown as text. Any other markup stays literal text.

const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:"]);

export function safeUrl(raw) {
  try {
    const url = new URL(raw, "https://invalid.example/");
    if (!SAFE_SCHEMES.has(url.protocol)) return null;
    if (url.hostname === "invalid.example") return null; // relative: not ours to resolve
    return url.href;
  } catch (_) {
    return null;
  }
}

// Inline: returns DOM nodes for one line of text.
export function inline(text) {
  const out = [];
  const pattern =
    /(!?)\[([^\]\n]{0,500})\]\(([^)\s]{1,2000})\)|\*\*([^*\n]+)\*\*|__([^_\n]+)__|`([^`\n]+)`|\*([^*\n]+)\*|_([^_\n]+)_/g;
  let last = 0;
  let m;
  while ((m = pattern.exec(text)) !== null) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    last = pattern.lastIndex;
    if (m[2] !== undefined) {
      if (m[1]) {
        // An image: its alt text only, never a request.
        if (m[2]) out.push(document.createTextNode(m[2]));
        continue;
      }
      const href = safeUrl(m[3]);
      if (href) {
        const a = document.createElement("a");
        a.href = href;
        a.rel = "noopener noreferrer";
        a.target = "_blank";
        a.append(...inline(m[2]));
        out.push(a);
      } else {
        out.push(document.createTextNode(m[2]));
      }
    } else if (m[4] !== undefined || m[5] !== undefined) {
      const b = document.createElement("strong");
      b.append(...inline(m[4] ?? m[5]));
      out.push(b);
    } else if (m[6] !== undefined) {
      const c = document.createElement("code");
      c.textContent = m[6];
      out.push(c);
    } else {
      const i = document.createElement("em");
      i.append(...inline(m[7] ?? m[8]));
      out.push(i);
    }
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

// Block level: a DocumentFragment for the whole text.
export function markdown(text) {
  const frag = document.createDocumentFragment();
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  let para = null;
  let list = null;
  const endBlocks = () => {
    para = null;
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      const body = [];
      for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) body.push(lines[i]);
      code.textContent = body.join("\n");
      pre.appendChild(code);
      frag.appendChild(pre);
      endBlocks();
      continue;
    }
    if (!line.trim()) {
      endBlocks();
      continue;
    }
    const heading = /^\s{0,3}#{1,6}\s+(.*)$/.exec(line);
    if (heading) {
      const p = document.createElement("p");
      const strong = document.createElement("strong");
      strong.append(...inline(heading[1]));
      p.appendChild(strong);
      frag.appendChild(p);
      endBlocks();
      continue;
    }
    const item = /^\s*(?:([-*+])|(\d{1,3})[.)])\s+(.*)$/.exec(line);
    if (item) {
      const tag = item[1] ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = document.createElement(tag);
        frag.appendChild(list);
      }
      const li = document.createElement("li");
      li.append(...inline(item[3]));
      list.appendChild(li);
      para = null;
      continue;
    }
    if (list && /^\s{2,}\S/.test(line)) {
      list.lastChild.append(document.createTextNode(" "), ...inline(line.trim()));
      continue;
    }
    list = null;
    if (!para) {
      para = document.createElement("p");
      frag.appendChild(para);
    } else {
      para.appendChild(document.createElement("br"));
    }
    para.append(...inline(line));
  }
  return frag;
}

// Shorthand for building elements: h("button", {type: "button", class: "x"}, "text").
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
