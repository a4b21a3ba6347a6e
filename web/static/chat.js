// The chat page (/b/{bot}): standalone, or inside the widget's iframe on a blog.
import { ApiError, call, clearSession, events, saveSession, session, store } from "./api.js";
import { pickLanguage, strings, translate } from "./i18n.js";
import { h, markdown } from "./render.js";

const root = document.documentElement;
const bot = root.dataset.bot;
const parentOrigin = root.dataset.parent || ""; // vetted by the server: allowed or ours
const embedded = window.parent !== window;
const lang = pickLanguage(root.dataset.lang);
const t = strings(lang);
root.lang = lang;

const $ = (id) => document.getElementById(id);
const log = $("log");
const form = $("ask");
const input = $("question");
const sendButton = $("send");
const quotaLine = $("quota");
const statusLine = $("status");
const limitBox = $("limit");
const accountDialog = $("account");

// Opened from a talent search's "ask this person" link (?via=talent): each question sent
// from this page says so, and the owner's insights count them (never who asked). Any
// other value is not ours to pass on.
const VIA = new URLSearchParams(location.search).get("via") === "talent" ? "talent" : null;
const GUEST_KEY = `protostar:guest:${bot}`;
const CONVERSATION_KEY = `protostar:conversation:${bot}`;
let busy = false;

// ------------------------------------------------------------------ identity
function identity() {
  const user = session();
  if (user && user.access_token) return { kind: "user", token: null, user: user.user };
  const guest = store.read(GUEST_KEY);
  if (guest && guest.access_token && guest.expires_at > Date.now() / 1000 + 60) {
    return { kind: "guest", token: guest.access_token };
  }
  return null;
}

async function ensureIdentity() {
  const current = identity();
  if (current) return current;
  const issued = await call("POST", "/api/auth/guest", { body: { bot } });
  store.write(GUEST_KEY, {
    access_token: issued.access_token,
    expires_at: Date.now() / 1000 + (issued.expires_in || 3600),
  });
  return { kind: "guest", token: issued.access_token };
}

function conversationKey() {
  const who = identity();
  return who && who.kind === "user" ? `${CONVERSATION_KEY}:user` : CONVERSATION_KEY;
}

function showWho() {
  const who = identity();
  const label =
    who && who.kind === "user" ? t.signed_in_as(who.user?.display_name || who.user?.email || "") : t.guest;
  $("who").textContent = label;
  $("account-who").textContent = label;
  $("account-signed-in").hidden = !(who && who.kind === "user");
  $("account-signed-out").hidden = Boolean(who && who.kind === "user");
}

// ------------------------------------------------------------------ quota
function showQuota(quota) {
  if (!quota) return;
  if (quota.limit === null || quota.remaining === null || quota.scope === "unlimited") {
    quotaLine.textContent = t.quota_unlimited;
    return;
  }
  let text = t.quota_left(quota.remaining);
  if (quota.reset_at) {
    const when = new Date(quota.reset_at);
    if (!Number.isNaN(when.getTime())) {
      text += " · " + t.quota_resets(when.toLocaleString(lang === "ko" ? "ko-KR" : "en-US", { dateStyle: "short", timeStyle: "short" }));
    }
  }
  if (quota.scope === "guest") text += " · " + t.limit_body;
  quotaLine.textContent = text;
}

function showLimit(error) {
  const hint = error.details && error.details.signup_hint;
  const who = identity();
  $("limit-body").textContent = who && who.kind === "user" ? error.message : hint || t.limit_body;
  $("limit-signup").hidden = Boolean(who && who.kind === "user");
  $("limit-login").hidden = Boolean(who && who.kind === "user");
  limitBox.hidden = false;
  quotaLine.textContent = t.quota_left(0);
  (who && who.kind === "user" ? limitBox : $("limit-signup")).focus?.();
}

// ------------------------------------------------------------------ messages
function citationList(citations) {
  if (!Array.isArray(citations) || !citations.length) return null;
  const list = h("ol", { class: "citations" });
  citations.forEach((c, index) => {
    const id = `snippet-${Math.random().toString(36).slice(2)}`;
    const snippet = h("blockquote", { class: "snippet", id, hidden: true }, String(c.snippet || ""));
    const toggle = h("button", {
      type: "button",
      class: "link",
      "aria-expanded": "false",
      "aria-controls": id,
      text: t.show_snippet,
      onclick: () => {
        const open = toggle.getAttribute("aria-expanded") !== "true";
        toggle.setAttribute("aria-expanded", String(open));
        toggle.textContent = open ? t.hide_snippet : t.show_snippet;
        snippet.hidden = !open;
      },
    });
    list.append(
      h(
        "li",
        { class: "citation", dataset: { document: String(c.document_id || "") } },
        h("span", { class: "cite-n" }, `[${index + 1}]`),
        " ",
        h("span", { class: "cite-title" }, String(c.title || "")),
        c.section ? h("span", { class: "cite-section" }, " · " + String(c.section)) : null,
        " ",
        c.snippet ? toggle : null,
        snippet,
      ),
    );
  });
  return h("section", { class: "sources", "aria-label": t.sources }, h("h3", { class: "small" }, t.sources), list);
}

// A thumb drawn as SVG: emoji need a colour-emoji font that many systems lack.
function thumbIcon(down) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "18");
  svg.setAttribute("height", "18");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  if (down) svg.setAttribute("transform", "rotate(180)");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M2 10h4v11H2z M8 21V10l4-8c1.7 0 3 1.3 3 3v4h5.4c1.2 0 2.1 1.1 1.9 2.3l-1.5 8.2c-.2 1-1 1.5-2 1.5z");
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

function feedbackBar(messageId, existing) {
  const bar = h("div", { class: "feedback", role: "group", "aria-label": t.helpful });
  const comment = h("textarea", { class: "comment", rows: 2, maxlength: 1000, "aria-label": t.feedback_comment, placeholder: t.feedback_comment });
  const note = h("p", { class: "muted small", role: "status" });
  const commentForm = h("form", { class: "comment-form", hidden: true }, comment, h("button", { type: "submit", class: "ghost small" }, t.feedback_send));
  let rating = existing ? existing.rating : null;
  const send = async (withComment) => {
    const body = { rating };
    if (withComment && comment.value.trim()) body.comment = comment.value.trim();
    try {
      const who = identity();
      await call("POST", `/api/messages/${encodeURIComponent(messageId)}/feedback`, {
        body,
        token: who && who.kind === "guest" ? who.token : null,
      });
      note.textContent = t.feedback_thanks;
      bar.dataset.stored = rating;
    } catch (error) {
      note.textContent = error.message || t.error_generic;
    }
  };
  const button = (value, label, glyph) => {
    const el = h("button", {
      type: "button",
      class: "thumb",
      "aria-pressed": String(rating === value),
      "aria-label": label,
      title: label,
      dataset: { rating: value },
      onclick: async (event) => {
        rating = value;
        for (const b of bar.querySelectorAll(".thumb")) b.setAttribute("aria-pressed", String(b === event.currentTarget));
        commentForm.hidden = false;
        await send(false);
      },
    });
    el.append(glyph);
    return el;
  };
  commentForm.addEventListener("submit", (event) => {
    event.preventDefault();
    send(true);
  });
  bar.append(button("up", t.helpful, thumbIcon(false)), button("down", t.not_helpful, thumbIcon(true)), commentForm, note);
  if (existing && existing.comment) comment.value = existing.comment;
  return bar;
}

function questionBubble(text) {
  return h("div", { class: "msg user" }, h("span", { class: "sr-only" }, t.you + ": "), h("p", {}, text));
}

function answerBubble() {
  const body = h("div", { class: "answer-body" });
  const el = h("div", { class: "msg bot", "aria-busy": "true" }, h("span", { class: "sr-only" }, t.bot + ": "), body);
  return { el, body };
}

function renderAnswer(target, text) {
  target.replaceChildren(markdown(text));
}

function scrollDown() {
  log.scrollTop = log.scrollHeight;
}

function showPast(turn) {
  log.append(questionBubble(turn.question));
  const { el, body } = answerBubble();
  renderAnswer(body, turn.answer || "");
  el.setAttribute("aria-busy", "false");
  if (turn.answerable === false) el.classList.add("unanswerable");
  const sources = citationList(turn.citations);
  if (sources) el.append(sources);
  if (turn.id) el.append(feedbackBar(turn.id, turn.feedback));
  log.append(el);
}

// Past turns of a stored conversation: the API may list turns, or messages by role.
function turnsOf(conversation) {
  const items = conversation.turns || conversation.messages || [];
  const turns = [];
  for (const item of items) {
    if (item.question !== undefined) {
      turns.push({
        id: item.message_id || item.id,
        question: item.question,
        answer: item.answer,
        citations: item.citations,
        answerable: item.answerable,
        feedback: item.feedback,
      });
    } else if (item.role === "user") {
      turns.push({ question: item.content || item.text || "" });
    } else if (item.role === "assistant" && turns.length) {
      Object.assign(turns[turns.length - 1], {
        id: item.id,
        answer: item.content || item.text || "",
        citations: item.citations,
        answerable: item.answerable,
        feedback: item.feedback,
      });
    }
  }
  return turns;
}

async function restore() {
  const id = store.read(conversationKey());
  const who = identity();
  if (!id || !who) return;
  try {
    const conversation = await call("GET", `/api/conversations/${encodeURIComponent(id)}`, {
      token: who.kind === "guest" ? who.token : null,
    });
    for (const turn of turnsOf(conversation)) showPast(turn);
    scrollDown();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) {
      store.write(conversationKey(), null);
    }
  }
}

// ------------------------------------------------------------------ asking
async function ask(question) {
  if (busy) return;
  question = question.trim();
  if (!question) return;
  busy = true;
  sendButton.disabled = true;
  limitBox.hidden = true;
  $("suggestions").hidden = true;
  log.append(questionBubble(question));
  const { el, body } = answerBubble();
  body.append(h("p", { class: "muted thinking" }, t.thinking));
  log.append(el);
  scrollDown();
  let text = "";
  let tokens = 0;
  try {
    const who = await ensureIdentity();
    const payload = { question };
    if (VIA) payload.via = VIA;
    const conversation = store.read(conversationKey());
    if (conversation) payload.conversation_id = conversation;
    const response = await call("POST", `/api/bots/${encodeURIComponent(bot)}/ask`, {
      body: payload,
      token: who.kind === "guest" ? who.token : null,
      headers: { Accept: "text/event-stream" },
      raw: true,
    });
    if (!response.ok) {
      let data = null;
      try {
        data = await response.json();
      } catch (_) {
        /* not JSON */
      }
      if (response.status === 401 && who.kind === "guest") store.write(GUEST_KEY, null);
      throw new ApiError(response.status, data);
    }
    const type = response.headers.get("content-type") || "";
    if (!type.includes("text/event-stream")) {
      const data = await response.json();
      finish(el, body, data.answer || "", data);
      return;
    }
    let done = null;
    for await (const { event, data } of events(response)) {
      if (event === "token") {
        text += typeof data === "string" ? data : data.text || "";
        tokens += 1;
        el.dataset.tokens = String(tokens);
        renderAnswer(body, text);
        scrollDown();
      } else if (event === "citations") {
        el.querySelector(".sources")?.remove();
        const sources = citationList(data);
        if (sources) el.append(sources);
      } else if (event === "done") {
        done = data;
      } else if (event === "error") {
        throw new ApiError(502, { error: data });
      }
    }
    if (!done) throw new ApiError(502, { error: { message: t.error_generic } });
    finish(el, body, text, done);
  } catch (error) {
    el.setAttribute("aria-busy", "false");
    if (!text) el.remove();
    if (error instanceof ApiError && error.status === 429 && error.code === "quota_exceeded") {
      showLimit(error);
    } else if (error instanceof ApiError && error.status === 429) {
      showError(t.error_rate);
    } else if (error instanceof ApiError) {
      showError(error.message || t.error_generic);
    } else {
      showError(t.error_network);
    }
  } finally {
    busy = false;
    sendButton.disabled = false;
  }
}

function finish(el, body, text, done) {
  if (!text && done.answer) text = done.answer;
  renderAnswer(body, text);
  if (done.citations && !el.querySelector(".sources")) {
    const sources = citationList(done.citations);
    if (sources) el.append(sources);
  }
  if (done.answerable === false) el.classList.add("unanswerable");
  if (done.conversation_id) store.write(conversationKey(), done.conversation_id);
  if (done.message_id) {
    el.dataset.messageId = done.message_id;
    el.append(feedbackBar(done.message_id, null));
  }
  el.setAttribute("aria-busy", "false");
  el.dataset.done = "true";
  showQuota(done.quota);
  scrollDown();
}

function showError(message) {
  const note = h("p", { class: "msg error", role: "alert" }, message);
  log.append(note);
  scrollDown();
}

// ------------------------------------------------------------------ account
function openAccount(tab) {
  $("account-error").textContent = "";
  showWho();
  selectTab(tab || "signup");
  if (typeof accountDialog.showModal === "function") accountDialog.showModal();
  else accountDialog.setAttribute("open", "");
  const first = accountDialog.querySelector("form:not([hidden]) input");
  first?.focus();
}

function selectTab(which) {
  for (const name of ["signup", "login"]) {
    const on = name === which;
    $(`tab-${name}`).setAttribute("aria-selected", String(on));
    $(`${name}-form`).hidden = !on;
  }
}

async function signedIn(tokens, message) {
  saveSession(tokens);
  store.write(GUEST_KEY, null); // questions now count against the account
  showWho();
  limitBox.hidden = true;
  accountDialog.close?.();
  statusLine.textContent = message;
  log.append(h("p", { class: "msg notice", role: "status" }, message));
  scrollDown();
  input.focus();
}

function formBody(form) {
  return Object.fromEntries([...new FormData(form).entries()].filter(([, v]) => String(v).trim() !== ""));
}

async function submitAccount(event, action) {
  event.preventDefault();
  const target = event.currentTarget;
  $("account-error").textContent = "";
  try {
    await action(formBody(target));
    target.reset();
  } catch (error) {
    $("account-error").textContent = error.message || t.error_generic;
  }
}

// ------------------------------------------------------------------ embedding
function tellParent(type) {
  // Only to the exact origin the server vetted; never a wildcard.
  if (embedded && parentOrigin) window.parent.postMessage({ type }, parentOrigin);
}

window.addEventListener("message", (event) => {
  if (!embedded || !parentOrigin || event.origin !== parentOrigin || event.source !== window.parent) return;
  if (event.data && event.data.type === "protostar:open") input.focus();
});

// ------------------------------------------------------------------ start
// ?q=... (talent search's "ask this person" link) fills the question box, never sends it:
// the visitor reads it, edits it and sends it.
function prefill() {
  const question = new URLSearchParams(location.search).get("q");
  if (!question || !question.trim()) return;
  input.value = question.trim().slice(0, input.maxLength > 0 ? input.maxLength : 2000);
  if (!embedded) {
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }
}

async function start() {
  translate(document, t);
  document.title = "Protostar";
  if (embedded && parentOrigin) {
    $("close").hidden = false;
    $("close").addEventListener("click", () => tellParent("protostar:close"));
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !accountDialog.open) tellParent("protostar:close");
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value;
    input.value = "";
    ask(question);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  $("new-chat").addEventListener("click", () => {
    store.write(conversationKey(), null);
    for (const el of log.querySelectorAll(".msg")) el.remove();
    input.focus();
  });
  $("account-open").addEventListener("click", () => openAccount());
  $("limit-signup").addEventListener("click", () => openAccount("signup"));
  $("limit-login").addEventListener("click", () => openAccount("login"));
  $("tab-signup").addEventListener("click", () => selectTab("signup"));
  $("tab-login").addEventListener("click", () => selectTab("login"));
  $("signup-form").addEventListener("submit", (e) =>
    submitAccount(e, async (body) => signedIn(await call("POST", "/api/auth/signup", { body }), t.signup_done)),
  );
  $("login-form").addEventListener("submit", (e) =>
    submitAccount(e, async (body) => signedIn(await call("POST", "/api/auth/login", { body }), t.signed_in_as(body.email))),
  );
  $("invite-form").addEventListener("submit", (e) =>
    submitAccount(e, async (body) => signedIn(await call("POST", "/api/users/me/invite", { body }), t.invite_done)),
  );
  $("logout").addEventListener("click", async () => {
    const current = session();
    if (current?.refresh_token) {
      call("POST", "/api/auth/logout", { body: { refresh_token: current.refresh_token } }).catch(() => {});
    }
    clearSession();
    store.write(`${CONVERSATION_KEY}:user`, null);
    accountDialog.close?.();
    showWho();
  });
  showWho();
  prefill();

  try {
    const info = await call("GET", `/api/bots/${encodeURIComponent(bot)}/public`);
    $("bot-name").textContent = info.name;
    document.title = `${info.name} · Protostar`;
    $("greeting").textContent = info.greeting || "";
    const list = $("suggestion-list");
    for (const q of info.suggested_questions || []) {
      list.append(h("li", {}, h("button", { type: "button", class: "chip", onclick: () => ask(q) }, q)));
    }
    $("suggestions").hidden = !(info.suggested_questions || []).length;
  } catch (_) {
    $("greeting").textContent = t.bot_missing;
    sendButton.disabled = true;
  }
  await restore();
  if (log.querySelector(".msg")) $("suggestions").hidden = true;
  $("app").setAttribute("aria-busy", "false");
  root.dataset.ready = "true";
  tellParent("protostar:ready");
}

start();
