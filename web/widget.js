/* Protostar widget loader. One tag on any page:
 *   <script src="https://HOST/widget.js" data-bot="SLUG" async></script>
 * adds a launcher button; clicking it opens the bot's chat page (served from HOST) in an
 * iframe. No dependencies. It adds one element to the page (a shadow root holding the
 * launcher and the iframe, so the page's CSS cannot reach them), reads no cookies or storage of the page, and talks to the
 * iframe only with postMessage to and from HOST's exact origin.
 * Optional: data-lang="ko|en" (default: the browser's language). */
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || !script.src) return;
  const bot = script.getAttribute("data-bot") || "";
  if (!/^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$/.test(bot)) {
    console.warn("protostar: data-bot must be a bot's slug");
    return;
  }
  const origin = new URL(script.src, location.href).origin;
  const key = "__protostar_" + bot.replace(/-/g, "_");
  if (window[key]) return; // loaded twice: one launcher
  window[key] = true;
  let lang = (script.getAttribute("data-lang") || navigator.language || "en").toLowerCase();
  lang = lang.startsWith("ko") ? "ko" : "en";
  const text = {
    ko: { open: "질문하기", close: "닫기", title: "커리어 챗봇" },
    en: { open: "Ask me", close: "Close", title: "Career chat" },
  }[lang];

  const css = `
:host{all:initial}
.l{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;align-items:center;gap:8px;
 padding:12px 18px;border:0;border-radius:999px;background:#1f2a6b;color:#fff;cursor:pointer;
 font:600 15px/1.2 system-ui,-apple-system,"Apple SD Gothic Neo","Malgun Gothic","NanumGothic","Noto Sans KR",sans-serif;
 box-shadow:0 6px 20px rgba(0,0,0,.25)}
.l:hover{background:#2b3990}
.l:focus-visible{outline:3px solid #ffbf47;outline-offset:3px}
.l svg{width:20px;height:20px}
.f{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:380px;height:min(640px,calc(100vh - 110px));
 border:0;border-radius:14px;background:#fff;box-shadow:0 12px 40px rgba(0,0,0,.3)}
.f[hidden]{display:none}
@media (max-width:480px){.f{right:0;bottom:0;width:100vw;height:100vh;height:100dvh;border-radius:0}
 .open .l{display:none}}`;

  const host = document.createElement("div");
  host.setAttribute("data-protostar-widget", bot);
  const root = host.attachShadow({ mode: "open" });
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } catch (_) {
    const style = document.createElement("style");
    style.textContent = css;
    root.appendChild(style);
  }
  const wrap = document.createElement("div");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "l";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-haspopup", "dialog");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
  svg.appendChild(path);
  const label = document.createElement("span");
  label.textContent = text.open;
  button.append(svg, label);
  wrap.appendChild(button);
  root.appendChild(wrap);

  let frame = null;
  let name = text.title;

  const frameUrl = () => {
    const url = new URL("/b/" + bot, origin);
    url.searchParams.set("parent", location.origin);
    url.searchParams.set("lang", lang);
    return url.href;
  };
  const setOpen = (open) => {
    if (open && !frame) {
      frame = document.createElement("iframe");
      frame.className = "f";
      frame.title = name;
      frame.src = frameUrl();
      frame.setAttribute("allow", "clipboard-write");
      frame.setAttribute("referrerpolicy", "no-referrer");
      wrap.appendChild(frame);
    }
    if (frame) frame.hidden = !open;
    wrap.classList.toggle("open", open);
    button.setAttribute("aria-expanded", String(open));
    label.textContent = open ? text.close : text.open;
    button.setAttribute("aria-label", label.textContent + ": " + name);
    if (open) {
      // The page inside focuses its question box once it is told (or once it loads).
      frame.contentWindow && frame.contentWindow.postMessage({ type: "protostar:open" }, origin);
    } else {
      button.focus();
    }
  };
  button.addEventListener("click", () => setOpen(button.getAttribute("aria-expanded") !== "true"));
  window.addEventListener("message", (event) => {
    if (!frame || event.origin !== origin || event.source !== frame.contentWindow) return;
    const data = event.data;
    if (!data || typeof data.type !== "string") return;
    if (data.type === "protostar:close") setOpen(false);
    if (data.type === "protostar:ready" && !frame.hidden) {
      frame.contentWindow.postMessage({ type: "protostar:open" }, origin);
    }
  });

  // Only pages whose origin the bot's owner allowed get a launcher: the public view
  // answers CORS for exactly those (and the chat page could not be framed elsewhere).
  fetch(new URL("/api/bots/" + bot + "/public", origin), { credentials: "omit", mode: "cors" })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
    .then((info) => {
      if (info && typeof info.name === "string" && info.name) name = info.name;
      button.title = name;
      button.setAttribute("aria-label", text.open + ": " + name);
      (document.body || document.documentElement).appendChild(host);
    })
    .catch((err) => console.warn("protostar: widget not shown for this site (" + err.message + ")"));
})();
