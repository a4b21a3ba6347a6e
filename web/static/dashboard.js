// The owner dashboard (/dashboard): sign-up, sign-in and a forgotten password when
// signed out; invite redemption for a stargazer; for a protostar, bots, documents,
// settings, embed snippet, insights, conversations and invite codes; for anyone signed
// in, the account page (profile, password, sign out everywhere, export, deletion).
import { ApiError, accounts, call, clearSession, saveSession, session } from "./api.js";
import { submitForm } from "./forms.js";
import { errorText, pickLanguage, strings, translate } from "./i18n.js";
import { h } from "./render.js";

const params = new URLSearchParams(location.search);
const lang = pickLanguage(params.get("lang"));
const t = strings(lang);
document.documentElement.lang = lang;
const $ = (id) => document.getElementById(id);
const FINAL = new Set(["ready", "failed"]);

let bots = [];
let current = null; // the selected bot's owner view
let panel = "documents";
let pollTimer = null;
let me = null; // the signed-in user (UserView)

function show(view) {
  for (const id of ["login-view", "not-protostar", "app-view", "account-view"]) $(id).hidden = id !== view;
  $("logout").hidden = view === "login-view";
  $("account-open").hidden = view === "login-view" || view === "account-view";
}

function fail(error) {
  $("error").textContent = error instanceof Error ? error.message : String(error);
}

// ------------------------------------------------------------------ signed out
// One of three panes: log in, sign up, or ask for a reset link (?view=signup|forgot).
const PANES = ["login", "signup", "forgot"];

function showPane(name, { focus = true } = {}) {
  const pane = PANES.includes(name) ? name : "login";
  for (const p of PANES) $(`pane-${p}`).hidden = p !== pane;
  if (pane === "forgot" && !$("forgot-form").elements.email.value) {
    $("forgot-form").elements.email.value = $("login-form").elements.email.value;
  }
  if (focus) $(`pane-${pane}`).querySelector("input").focus();
}

for (const button of document.querySelectorAll("[data-go]")) {
  button.addEventListener("click", () => showPane(button.dataset.go));
}

// ------------------------------------------------------------------ sign-in
// `messages`: what the step before wants said on the screen boot lands on (a welcome,
// an invite that failed and its code, the news of a redeemed one, or why the user is
// signed out).
async function boot(messages = {}) {
  const s = session();
  $("signed-out").textContent = messages.signedOut || "";
  if (!s) {
    me = null;
    $("me").textContent = "";
    show("login-view");
    const view = params.get("view");
    if (messages.signedOut) return showPane("login");
    return showPane(view || "login", { focus: Boolean(view) });
  }
  try {
    me = await accounts.me();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      clearSession();
      return boot();
    }
    return fail(error);
  }
  $("me").textContent = me.display_name || me.email;
  if (me.role !== "protostar") {
    show("not-protostar");
    $("welcome").textContent = messages.welcome || "";
    $("redeem-error").textContent = messages.redeemError || "";
    const code = $("redeem-form").elements.code;
    if (messages.code) code.value = messages.code;
    code.focus();
    return;
  }
  show("app-view");
  $("notice").textContent = messages.notice || "";
  await loadBots();
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitForm(event.currentTarget, $("login-error"), t, async (f) => {
    saveSession(await accounts.login(f.email.value.trim(), f.password.value));
    await boot();
  });
});

// Sign up; with an invite code, redeem it at once with the new session, whose tokens the
// redeem's answer (a protostar's session) replaces. A code that fails leaves a signed-in
// stargazer, told why, with the code ready to try again.
$("signup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  submitForm(form, $("signup-error"), t, async (f) => {
    const body = { email: f.email.value.trim(), password: f.password.value };
    const name = f.display_name.value.trim();
    if (name) body.display_name = name;
    const code = f.code.value.trim();
    const created = await accounts.signup(body);
    saveSession(created);
    form.reset();
    if (!code) return boot({ welcome: t.signup_welcome });
    try {
      saveSession(await accounts.redeemInvite(code, created.access_token));
    } catch (error) {
      return boot({ welcome: t.signup_welcome, redeemError: t.invite_failed(errorText(t, error)), code });
    }
    await boot({ notice: t.invite_done });
  });
});

$("forgot-form").addEventListener("submit", (event) => {
  event.preventDefault();
  $("forgot-status").textContent = "";
  submitForm(event.currentTarget, $("forgot-error"), t, async (f) => {
    await accounts.requestPasswordReset(f.email.value.trim());
    $("forgot-status").textContent = t.forgot_sent;
  });
});

$("redeem-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  $("welcome").textContent = "";
  submitForm(form, $("redeem-error"), t, async (f) => {
    saveSession(await accounts.redeemInvite(f.code.value.trim()));
    form.reset();
    await boot({ notice: t.invite_done });
  });
});

// ------------------------------------------------------------------ account
function openAccount() {
  show("account-view");
  const f = $("profile-form").elements;
  $("account-email").textContent = me.email;
  f.display_name.value = me.display_name || "";
  f.locale.value = me.locale || "";
  for (const id of ["profile-status", "password-status", "export-status"]) $(id).textContent = "";
  $("account-title").focus();
}

$("account-title").tabIndex = -1;
$("account-open").addEventListener("click", openAccount);
$("account-back").addEventListener("click", () => boot());

$("profile-form").addEventListener("submit", (event) => {
  event.preventDefault();
  $("profile-status").textContent = "";
  submitForm(event.currentTarget, $("profile-error"), t, async (f) => {
    me = await accounts.updateProfile({ display_name: f.display_name.value.trim() || null, locale: f.locale.value || null });
    $("me").textContent = me.display_name || me.email;
    f.display_name.value = me.display_name || "";
    $("profile-status").textContent = t.saved;
  });
});

const differ = (f) => (f.password.value === f.repeat.value ? null : { input: f.repeat, text: t.passwords_differ });

// A new password signs out every session; the answer is this device's fresh one.
$("password-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  $("password-status").textContent = "";
  submitForm(
    form,
    $("password-error"),
    t,
    async (f) => {
      const fresh = await accounts.changePassword(f.current_password.value, f.password.value);
      saveSession(fresh);
      me = fresh.user;
      form.reset();
      $("password-status").textContent = t.password_changed;
    },
    differ,
  );
});

// Every refresh token ends, this device's too: the signed-out screen says so.
$("revoke-sessions").addEventListener("click", async () => {
  const button = $("revoke-sessions");
  $("sessions-error").textContent = "";
  button.disabled = true;
  try {
    await accounts.signOutEverywhere();
    clearSession();
    await boot({ signedOut: t.signed_out_everywhere });
  } catch (error) {
    $("sessions-error").textContent = errorText(t, error);
  } finally {
    button.disabled = false;
  }
});

// The export as a file: a Blob behind a download link, clicked once and let go.
$("export").addEventListener("click", async () => {
  const button = $("export");
  $("export-status").textContent = "";
  $("export-error").textContent = "";
  button.disabled = true;
  try {
    const data = await accounts.exportData();
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: `protostar-export-${new Date().toISOString().slice(0, 10)}.json`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    $("export-status").textContent = t.export_done;
  } catch (error) {
    $("export-error").textContent = errorText(t, error);
  } finally {
    button.disabled = false;
  }
});

const sameEmail = (f) =>
  f.confirm_email.value.trim().toLowerCase() === me.email.toLowerCase() ? null : { input: f.confirm_email, text: t.delete_email_differs };

$("delete-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  submitForm(
    form,
    $("delete-error"),
    t,
    async (f) => {
      await accounts.deleteAccount(f.current_password.value);
      form.reset();
      clearSession();
      await boot({ signedOut: t.account_deleted });
    },
    sameEmail,
  );
});

$("logout").addEventListener("click", async () => {
  const s = session();
  if (s?.refresh_token) await call("POST", "/api/auth/logout", { body: { refresh_token: s.refresh_token } }).catch(() => {});
  clearSession();
  location.reload();
});

// ------------------------------------------------------------------ bots
async function loadBots(select) {
  bots = (await call("GET", "/api/bots")).bots;
  const list = $("bot-list");
  list.replaceChildren(
    ...bots.map((b) =>
      h("li", {}, h("button", { type: "button", dataset: { slug: b.slug }, onclick: () => selectBot(b.slug) }, b.name)),
    ),
  );
  const wanted = select || current?.slug || params.get("bot") || bots[0]?.slug;
  if (wanted) await selectBot(wanted);
  else $("new-bot").open = true;
}

async function selectBot(slug) {
  current = bots.find((b) => b.slug === slug) || (await call("GET", `/api/bots/${slug}`));
  for (const b of $("bot-list").querySelectorAll("button")) b.setAttribute("aria-current", String(b.dataset.slug === slug));
  $("bot-title").textContent = current.name;
  fillSettings();
  fillEmbed();
  await openPanel(panel);
}

$("new-bot-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget; // null once the first await has run
  const body = Object.fromEntries(new FormData(form));
  body.allowed_origins = [location.origin];
  try {
    const bot = await call("POST", "/api/bots", { body });
    form.reset();
    $("new-bot").open = false;
    $("new-bot-error").textContent = "";
    await loadBots(bot.slug);
  } catch (error) {
    $("new-bot-error").textContent = error.message;
  }
});

// ------------------------------------------------------------------ tabs
for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
  tab.addEventListener("click", () => openPanel(tab.dataset.panel));
  tab.addEventListener("keydown", (event) => {
    const tabs = [...document.querySelectorAll("#tabs [role=tab]")];
    const i = tabs.indexOf(tab);
    const next = event.key === "ArrowRight" ? tabs[(i + 1) % tabs.length] : event.key === "ArrowLeft" ? tabs[(i - 1 + tabs.length) % tabs.length] : null;
    if (next) {
      next.focus();
      openPanel(next.dataset.panel);
    }
  });
}

async function openPanel(name) {
  panel = name;
  for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
    const on = tab.dataset.panel === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`panel-${tab.dataset.panel}`).hidden = !on;
  }
  $("error").textContent = "";
  try {
    if (name === "documents") await loadDocuments();
    if (name === "insights") await loadInsights();
    if (name === "conversations") await loadConversations();
    if (name === "invites") await loadInvites();
  } catch (error) {
    fail(error);
  }
}

// ------------------------------------------------------------------ documents
function statusBadge(status) {
  return h("span", { class: "badge", dataset: { status }, text: t[`status_${status}`] || status });
}

async function loadDocuments() {
  if (!current) return;
  const { documents } = await call("GET", `/api/bots/${current.slug}/documents`);
  $("doc-rows").replaceChildren(
    ...documents.map((d) =>
      h(
        "tr",
        { dataset: { id: d.id, status: d.status } },
        h("td", {}, h("strong", {}, d.title || d.filename), h("div", { class: "muted small" }, d.filename)),
        h("td", {}, statusBadge(d.status), d.error ? h("div", { class: "error small" }, d.error) : null),
        h("td", { class: "small" }, d.status === "ready" ? t.chunks(d.chunks) : ""),
        h(
          "td",
          {},
          d.status === "failed"
            ? h("button", {
                type: "button",
                class: "ghost small",
                text: t.retry,
                "aria-label": `${t.retry}: ${d.title}`,
                onclick: async () => {
                  await call("POST", `/api/bots/${current.slug}/documents/${d.id}/reindex`).catch(fail);
                  await loadDocuments();
                },
              })
            : null,
          h("button", {
            type: "button",
            class: "ghost small",
            text: t.delete,
            "aria-label": `${t.delete}: ${d.title}`,
            onclick: async () => {
              if (!confirm(t.confirm_delete(d.title))) return;
              await call("DELETE", `/api/bots/${current.slug}/documents/${d.id}`).catch(fail);
              await loadDocuments();
            },
          }),
        ),
      ),
    ),
  );
  $("no-docs").hidden = documents.length > 0;
  // Each upload row follows its document until it is ready or failed.
  for (const row of $("uploads").querySelectorAll("li[data-id]")) {
    const doc = documents.find((d) => d.id === row.dataset.id);
    if (doc) {
      row.dataset.status = doc.status;
      row.querySelector(".upload-status").replaceChildren(statusBadge(doc.status));
      if (doc.error) row.querySelector(".upload-status").append(h("div", { class: "error small" }, doc.error));
    }
  }
  const pending = documents.some((d) => !FINAL.has(d.status));
  if (!pending) $("reindex-status").textContent = "";
  clearTimeout(pollTimer);
  if (pending && panel === "documents") pollTimer = setTimeout(() => loadDocuments().catch(fail), 1000);
}

function upload(file) {
  const bar = h("progress", { max: 100, value: 0, "aria-label": t.uploading(file.name) });
  const status = h("span", { class: "upload-status small" }, "0%");
  const row = h("li", { dataset: { name: file.name } }, h("span", {}, file.name), bar, status);
  $("uploads").prepend(row);
  const form = new FormData();
  form.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `/api/bots/${current.slug}/documents`);
  xhr.setRequestHeader("Authorization", "Bearer " + session().access_token);
  xhr.upload.addEventListener("progress", (event) => {
    if (!event.lengthComputable) return;
    const pct = Math.round((event.loaded / event.total) * 100);
    bar.value = pct;
    status.textContent = `${pct}%`;
  });
  xhr.addEventListener("load", () => {
    let body = null;
    try {
      body = JSON.parse(xhr.responseText);
    } catch (_) {
      /* not JSON */
    }
    if (xhr.status === 202 && body) {
      bar.value = 100;
      row.dataset.id = body.id;
      row.dataset.status = body.status;
      status.replaceChildren(statusBadge(body.status));
      loadDocuments().catch(fail);
    } else {
      row.dataset.status = "failed";
      status.replaceChildren(h("span", { class: "error" }, body?.error?.message || `HTTP ${xhr.status}`));
    }
  });
  xhr.addEventListener("error", () => {
    row.dataset.status = "failed";
    status.replaceChildren(h("span", { class: "error" }, t.error_network));
  });
  xhr.send(form);
}

const drop = $("drop");
const fileInput = $("file-input");
drop.addEventListener("click", () => fileInput.click());
drop.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    fileInput.click();
  }
});
fileInput.addEventListener("change", () => {
  for (const file of fileInput.files) upload(file);
  fileInput.value = "";
});
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  for (const file of event.dataTransfer.files) upload(file);
});

$("reindex").addEventListener("click", async () => {
  try {
    await call("POST", `/api/bots/${current.slug}/reindex`);
    $("reindex-status").textContent = t.reindexing;
    await loadDocuments();
  } catch (error) {
    fail(error);
  }
});

// ------------------------------------------------------------------ settings
function fillSettings() {
  const f = $("settings-form").elements;
  f.name.value = current.name;
  f.greeting.value = current.greeting || "";
  f.persona.value = current.persona || "";
  f.suggested_questions.value = (current.suggested_questions || []).join("\n");
  f.allowed_origins.value = (current.allowed_origins || []).join("\n");
  f.language.value = current.language;
  f.discoverable.checked = Boolean(current.discoverable);
  f.discord_webhook.value = current.discord_webhook || "";
  $("settings-status").textContent = "";
}

const lines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);

$("settings-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = event.currentTarget.elements;
  const body = {
    name: f.name.value,
    greeting: f.greeting.value,
    persona: f.persona.value,
    suggested_questions: lines(f.suggested_questions.value),
    allowed_origins: lines(f.allowed_origins.value),
    language: f.language.value,
    discoverable: f.discoverable.checked,
    discord_webhook: f.discord_webhook.value.trim() || null,
  };
  try {
    current = await call("PATCH", `/api/bots/${current.slug}`, { body });
    bots = bots.map((b) => (b.slug === current.slug ? current : b));
    fillSettings();
    fillEmbed();
    $("bot-title").textContent = current.name;
    $("settings-status").textContent = t.saved;
    $("settings-status").className = "ok";
  } catch (error) {
    $("settings-status").textContent = error.message;
    $("settings-status").className = "error";
  }
});

// ------------------------------------------------------------------ embed
function fillEmbed() {
  $("snippet").value = `<script src="${location.origin}/widget.js" data-bot="${current.slug}" async></script>`;
  $("chat-link").href = `/b/${current.slug}`;
}

$("copy-snippet").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("snippet").value);
  } catch (_) {
    $("snippet").select();
  }
  $("copy-status").textContent = t.copied;
});

// ------------------------------------------------------------------ insights
function chart(days) {
  const ns = "http://www.w3.org/2000/svg";
  const el = (tag, attrs) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  };
  const width = 600;
  const height = 180;
  const pad = 20;
  const max = Math.max(1, ...days.map((d) => d.questions));
  const step = (width - pad) / Math.max(1, days.length);
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": t.questions_per_day });
  days.forEach((d, i) => {
    const x = pad + i * step + 1;
    const w = Math.max(1, step - 2);
    const total = ((height - pad) * d.questions) / max;
    const missed = ((height - pad) * (d.unanswered || 0)) / max;
    const y = height - pad - total;
    const bar = el("rect", { class: "answered", x, y, width: w, height: Math.max(0, total - missed) });
    const title = el("title", {});
    title.textContent = `${d.day}: ${d.questions} (${t.unanswered} ${d.unanswered || 0})`;
    bar.appendChild(title);
    svg.append(bar, el("rect", { class: "unanswered", x, y: height - pad - missed, width: w, height: missed }));
    if (days.length <= 14 || i % Math.ceil(days.length / 10) === 0) {
      const label = el("text", { x: x + w / 2, y: height - 5, "text-anchor": "middle" });
      label.textContent = String(d.day).slice(5);
      svg.append(label);
    }
  });
  return svg;
}

async function loadInsights() {
  const data = await call("GET", `/api/bots/${current.slug}/insights`);
  $("chart").replaceChildren(data.days && data.days.length ? chart(data.days) : h("p", { class: "muted" }, t.no_data));
  const top = data.top_questions || [];
  $("top-questions").replaceChildren(...(top.length ? top.map((q) => h("li", {}, `${q.question} (${q.count})`)) : [h("li", { class: "muted" }, t.no_data)]));
  const missed = data.unanswered || [];
  $("unanswered").replaceChildren(
    ...(missed.length
      ? missed.map((q) => h("li", {}, q.question, " ", h("span", { class: "muted small" }, new Date(q.asked_at).toLocaleString())))
      : [h("li", { class: "muted" }, t.no_data)]),
  );
  const fb = data.feedback || { up: 0, down: 0, ratio: null };
  const ratio = fb.ratio === null || fb.ratio === undefined ? "–" : `${Math.round(fb.ratio * 100)}%`;
  $("feedback-summary").textContent = `👍 ${fb.up} · 👎 ${fb.down} · ${ratio}`;
  showAppearances(data.appearances);
}

// How often the bot was shown in talent searches, for which criteria, and the questions
// then asked from a search's link: counts only, built as text nodes.
function showAppearances(a) {
  const shown = a && Number.isInteger(a.appearances) ? a : null;
  $("appearances").dataset.appearances = String(shown ? shown.appearances : 0);
  $("appearances-off").hidden = Boolean(current.discoverable);
  if (!shown || !shown.appearances) {
    $("appearances-summary").textContent = t.appearances_none;
  } else {
    const ranks = shown.best_rank ? " · " + t.appearance_ranks(shown.median_rank, shown.best_rank) : "";
    $("appearances-summary").textContent = t.appearances_summary(shown.appearances) + ranks;
  }
  const asked = (shown && shown.asked) || { questions: 0, conversations: 0, askers: 0 };
  $("appearances-asked").textContent = t.asked_from_talent(asked.questions, asked.conversations, asked.askers);
  const weeks = (shown && shown.weeks) || [];
  $("appearance-weeks").replaceChildren(
    ...(weeks.length
      ? weeks.map((w) =>
          h(
            "tr",
            { dataset: { week: String(w.week) } },
            h("td", {}, String(w.week), " ", h("span", { class: "muted small" }, t.week_from(String(w.starts).slice(5)))),
            h("td", { class: "shown" }, String(w.appearances)),
            h("td", { class: "asked" }, String(w.asked)),
          ),
        )
      : [h("tr", {}, h("td", { colspan: 3, class: "muted" }, t.no_data))]),
  );
  const criteria = (shown && shown.criteria) || [];
  $("appearance-criteria").replaceChildren(
    ...(criteria.length
      ? criteria.map((c) => {
          const v = c.verdicts || {};
          return h(
            "li",
            { class: "appearance-criterion", dataset: { kind: String(c.kind || "") } },
            h("span", { class: "crit-text" }, String(c.text)),
            h("span", { class: "muted small" }, ` · ${t[`kind_${c.kind}`] || String(c.kind || "")} · ${t.times(c.appearances)}`),
            h(
              "div",
              { class: "verdict-mix small" },
              ["met", "partial", "missing"].map((name) =>
                h("span", { dataset: { verdict: name } }, `${t[`verdict_${name}`]} ${Number(v[name]) || 0}`),
              ),
            ),
          );
        })
      : [h("li", { class: "muted" }, t.no_data)]),
  );
}

// ------------------------------------------------------------------ conversations
async function loadConversations() {
  const data = await call("GET", `/api/conversations?bot=${encodeURIComponent(current.slug)}`);
  const items = data.conversations || [];
  $("conversation-view").replaceChildren();
  $("conversation-list").replaceChildren(
    ...(items.length
      ? items.map((c) =>
          h(
            "li",
            {},
            h("button", { type: "button", onclick: () => showConversation(c.id) }, c.title || c.first_question || c.id),
            " ",
            h("span", { class: "muted small" }, [c.updated_at || c.created_at ? new Date(c.updated_at || c.created_at).toLocaleString() : "", c.message_count !== undefined ? " · " + t.messages(c.message_count) : ""].join("")),
          ),
        )
      : [h("li", { class: "muted" }, t.no_data)]),
  );
}

async function showConversation(id) {
  const data = await call("GET", `/api/conversations/${encodeURIComponent(id)}`);
  const items = data.turns || data.messages || [];
  $("conversation-view").replaceChildren(
    ...items.flatMap((m) =>
      m.question !== undefined
        ? [h("p", { class: "q" }, m.question), h("p", { class: "a" }, m.answer || "")]
        : [h("p", { class: m.role === "user" ? "q" : "a" }, m.content || m.text || "")],
    ),
  );
}

// ------------------------------------------------------------------ test your bot
function testResult(r) {
  const state = r.answerable ? "answered" : "refused";
  return h(
    "li",
    { class: "test-result", dataset: { answerable: String(r.answerable) } },
    h("p", { class: "q" }, h("span", { class: "badge", dataset: { status: r.answerable ? "ready" : "failed" }, text: t[`test_${state}`] }), " ", r.question),
    h("p", { class: "a" }, r.answer),
    r.citations.length
      ? h("div", {}, h("h3", { class: "small" }, t.test_sources), h("ol", { class: "sources small" }, ...r.citations.map((c) => h("li", {}, h("strong", {}, c.section || c.title), ": ", c.snippet))))
      : null,
    h("div", {}, h("h3", { class: "small" }, t.test_why), h("ul", { class: "why small muted" }, ...r.why.map((w) => h("li", {}, w)))),
  );
}

$("test-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const questions = lines($("test-questions").value).slice(0, 20);
  if (!questions.length) {
    $("test-status").textContent = t.test_none;
    return;
  }
  $("test-status").textContent = t.test_running;
  $("test-results").replaceChildren();
  try {
    const { results } = await call("POST", `/api/bots/${encodeURIComponent(current.slug)}/test`, { body: { questions } });
    $("test-results").replaceChildren(...results.map(testResult));
    $("test-status").textContent = "";
  } catch (error) {
    $("test-status").textContent = "";
    fail(error);
  }
});

// ------------------------------------------------------------------ invites
async function loadInvites() {
  const { invites } = await call("GET", "/api/invites");
  $("invite-rows").replaceChildren(
    ...(invites.length
      ? invites.map((i) => h("tr", {}, h("td", {}, h("code", {}, i.hint + "…")), h("td", {}, i.status), h("td", { class: "small muted" }, `${t.expires} ${new Date(i.expires_at).toLocaleDateString()}`)))
      : [h("tr", {}, h("td", { class: "muted" }, t.no_invites))]),
  );
}

$("issue-invite").addEventListener("click", async () => {
  try {
    const invite = await call("POST", "/api/invites");
    $("new-invite").replaceChildren(h("p", { class: "invite-code" }, invite.code), h("p", { class: "muted small" }, t.invite_shown_once));
    await loadInvites();
  } catch (error) {
    fail(error);
  }
});

translate(document, t);
boot().catch(fail);
