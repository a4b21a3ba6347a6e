// The talent-search page (/talent) for signed-up users (HR people): signed out, log in,
// sign up (?view=signup) or ask for a reset link (?view=forgot); signed in, a sentence
// becomes criteria (POST /api/talent/search), shown as chips to turn off, re-kind,
// remove or add before searching again with them; the people who fit, with a verdict
// per criterion in words and the passages of their own documents as evidence (text,
// never HTML), and a link to ask each one; the saved searches, newest first, to run
// again. The session is the one the public pages share (api.js).
import { ApiError, accounts, call, clearSession, saveSession, session } from "./api.js";
import { submitForm } from "./forms.js";
import { errorText, pickLanguage, strings, translate } from "./i18n.js";
import { h, safeUrl } from "./render.js";

const params = new URLSearchParams(location.search);
const explicit = params.get("lang");
const lang = pickLanguage(explicit);
const t = strings(lang);
const locale = lang === "ko" ? "ko-KR" : "en-US";
document.documentElement.lang = lang;
document.title = `${t.talent_title} · Protostar`;
const $ = (id) => document.getElementById(id);

const KINDS = ["must", "nice", "exclude"];
const MAX_CRITERIA = 12; // shared/talent/criteria.py
const SAVED_PAGE = 10;
const MARKS = { met: "✓", partial: "◐", missing: "✗" };

let current = null; // the search on screen (SearchView)
let draft = []; // its criteria as the user edits them: {id?, text, kind, enabled, type?, too_wide?}
let busy = false;
let oldest = null; // created_at of the last saved search listed (paging)

// ------------------------------------------------------------------ views
function show(view) {
  $("login-view").hidden = view !== "login-view";
  $("search-view").hidden = view !== "search-view";
  $("logout").hidden = view !== "search-view";
}

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

function when(value, options = { dateStyle: "medium", timeStyle: "short" }) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(locale, options);
}

// ------------------------------------------------------------------ sign-in
// `messages`: what to say on the screen boot lands on (a welcome, or why the user is
// signed out).
function boot(messages = {}) {
  const s = session();
  $("signed-out").textContent = messages.signedOut || "";
  if (!s || !s.access_token) {
    $("me").textContent = "";
    show("login-view");
    const view = params.get("view");
    if (messages.signedOut) return showPane("login");
    return showPane(view || "login", { focus: Boolean(view) });
  }
  const user = s.user || {};
  $("me").textContent = t.signed_in_as(user.display_name || user.email || "");
  $("welcome").textContent = messages.welcome || "";
  show("search-view");
  $("query").focus();
  loadSaved();
}

// A session that can no longer be refreshed: back to signing in, told why.
function signedOut() {
  clearSession();
  current = null;
  draft = [];
  $("criteria-section").hidden = true;
  $("results-section").hidden = true;
  boot({ signedOut: t.errors.token_expired });
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitForm(event.currentTarget, $("login-error"), t, async (f) => {
    saveSession(await accounts.login(f.email.value.trim(), f.password.value));
    f.password.value = "";
    boot();
  });
});

$("signup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  submitForm(form, $("signup-error"), t, async (f) => {
    const body = { email: f.email.value.trim(), password: f.password.value };
    const name = f.display_name.value.trim();
    if (name) body.display_name = name;
    saveSession(await accounts.signup(body));
    form.reset();
    boot({ welcome: t.talent_welcome });
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

$("logout").addEventListener("click", () => {
  const s = session();
  if (s && s.refresh_token) {
    call("POST", "/api/auth/logout", { body: { refresh_token: s.refresh_token }, anonymous: true }).catch(() => {});
  }
  clearSession();
  current = null;
  draft = [];
  $("saved").replaceChildren();
  $("criteria-section").hidden = true;
  $("results-section").hidden = true;
  boot();
});

// ------------------------------------------------------------------ searching
// What a failed search says: the quota's refusal with when it resets, else the error's
// code in the page's language.
function searchErrorText(error) {
  if (error instanceof ApiError && error.code === "talent_quota_exceeded") {
    const reset = error.details && error.details.reset_at;
    return reset ? t.talent_quota_spent(when(reset)) : t.errors.talent_quota_exceeded;
  }
  return errorText(t, error);
}

// The criterion a 400 names (field "criteria.3" or "criteria.3.text"), marked and focused.
function markCriterion(error) {
  const field = error && error.details && typeof error.details.field === "string" ? error.details.field : "";
  const match = /^criteria\.(\d+)/.exec(field);
  if (!match) return false;
  const chip = $("criteria").children[Number(match[1])];
  if (!chip) return false;
  chip.dataset.invalid = "true";
  chip.querySelector("input, select, button")?.focus();
  return true;
}

async function search(body) {
  if (busy) return;
  $("search-error").textContent = "";
  for (const el of document.querySelectorAll("#search-view [aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of document.querySelectorAll("#criteria [data-invalid]")) delete el.dataset.invalid;
  if (!body.query.trim()) {
    $("search-error").textContent = t.errors.empty_query;
    $("query").setAttribute("aria-invalid", "true");
    $("query").focus();
    return;
  }
  busy = true;
  for (const id of ["search", "search-again"]) $(id).disabled = true;
  $("results-section").setAttribute("aria-busy", "true");
  $("search-status").textContent = t.searching;
  try {
    const view = await call("POST", "/api/talent/search", { body });
    $("search-status").textContent = "";
    showSearch(view);
    loadSaved();
  } catch (error) {
    $("search-status").textContent = "";
    if (error instanceof ApiError && error.status === 401) return signedOut();
    $("search-error").textContent = searchErrorText(error);
    if (error instanceof ApiError && error.status === 429) showQuota({ remaining: 0, reset_at: error.details && error.details.reset_at });
    if (!markCriterion(error) && error instanceof ApiError && error.details && error.details.field === "query") {
      $("query").setAttribute("aria-invalid", "true");
      $("query").focus();
    }
  } finally {
    busy = false;
    for (const id of ["search", "search-again"]) $(id).disabled = false;
    $("results-section").setAttribute("aria-busy", "false");
  }
}

// A criterion as the API takes it back: its id (when it has one), text, kind, enabled.
function edit(c) {
  const out = { text: c.text, kind: c.kind, enabled: c.enabled };
  if (c.id) out.id = c.id;
  return out;
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  search({ query: $("query").value.trim() });
});

$("query").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("search-form").requestSubmit();
  }
});

$("search-again").addEventListener("click", () => {
  if (!current) return;
  if (!draft.length) {
    $("criteria-status").textContent = t.criteria_none;
    $("new-criterion").focus();
    return;
  }
  search({ query: current.query, limit: current.limit, criteria: draft.map(edit) });
});

// ------------------------------------------------------------------ criteria
function kindSelect(c, onchange, label) {
  const select = h("select", { class: "kind", "aria-label": label, onchange });
  for (const kind of KINDS) select.append(h("option", { value: kind, selected: c.kind === kind }, t[`kind_${kind}`]));
  return select;
}

function criterionChip(c, index) {
  // A checkbox per chip: on (ticked) or off, said by the box itself and by the text's
  // strike-through, never by colour alone.
  const box = h("input", {
    type: "checkbox",
    class: "crit-on",
    checked: c.enabled,
    onchange: (event) => {
      c.enabled = event.currentTarget.checked;
      changed(t.criterion_toggled(c.text, c.enabled));
    },
  });
  const toggle = h("label", { class: "crit-label", title: t.use_criterion_hint }, box, h("span", { class: "crit-text" }, c.text));
  const kind = kindSelect(
    c,
    (event) => {
      c.kind = event.currentTarget.value;
      changed(t.criterion_rekinded(c.text, t[`kind_${c.kind}`]));
    },
    t.kind_of(c.text),
  );
  const remove = h(
    "button",
    {
      type: "button",
      class: "icon remove",
      "aria-label": t.remove_criterion(c.text),
      title: t.remove_criterion(c.text),
      onclick: () => {
        draft.splice(index, 1);
        changed(t.criterion_removed(c.text));
        $("new-criterion").focus();
      },
    },
    "×",
  );
  return h(
    "li",
    {
      class: "criterion",
      dataset: { id: c.id || "", kind: c.kind, enabled: String(c.enabled), type: c.type || "", tooWide: String(Boolean(c.too_wide)) },
    },
    toggle,
    c.type ? h("span", { class: "crit-type muted small" }, t[`type_${c.type}`] || c.type) : null,
    c.too_wide ? h("span", { class: "badge too-wide", title: t.too_wide_hint }, t.too_wide) : null,
    kind,
    remove,
  );
}

function renderCriteria() {
  $("criteria").replaceChildren(...draft.map(criterionChip));
  const wide = draft.some((c) => c.too_wide);
  $("too-wide-note").hidden = !wide;
  $("too-wide-note").textContent = wide ? `${t.too_wide}: ${t.too_wide_hint}` : "";
  const full = draft.length >= MAX_CRITERIA;
  $("new-criterion").disabled = full;
  $("add-form").querySelector("button").disabled = full;
}

// The draft changed: redraw it, say so (live region), and keep focus on the same chip.
function changed(message) {
  const focused = document.activeElement;
  const chip = focused && focused.closest ? focused.closest("#criteria li") : null;
  const index = chip ? [...$("criteria").children].indexOf(chip) : -1;
  const which = focused && focused.classList ? [...focused.classList][0] : "";
  renderCriteria();
  const again = index >= 0 ? $("criteria").children[index] : null;
  if (again && which) again.querySelector(`.${which}`)?.focus();
  $("criteria-status").textContent = `${message} ${t.search_again_to_apply}`;
}

$("add-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("new-criterion");
  const text = input.value.trim();
  if (!text) {
    $("criteria-status").textContent = t.errors.empty_criterion;
    input.focus();
    return;
  }
  if (draft.length >= MAX_CRITERIA) {
    $("criteria-status").textContent = t.errors.bad_criteria;
    return;
  }
  draft.push({ text, kind: $("new-kind").value, enabled: true });
  input.value = "";
  changed(t.criterion_added(text));
  input.focus();
});

// ------------------------------------------------------------------ results
function askHref(raw) {
  const href = safeUrl(raw);
  if (!href) return null;
  if (!explicit) return href;
  const url = new URL(href);
  url.searchParams.set("lang", lang); // the chat page speaks the language asked for here
  return url.href;
}

function finding(f, c) {
  const verdict = t[`verdict_${f.verdict}`] || f.verdict;
  const text = c ? c.text : f.id;
  const kind = c && c.kind !== "must" ? t[`kind_${c.kind}`] : "";
  const evidence = (f.evidence || []).map((e) =>
    h("li", { class: "evidence", dataset: { document: String(e.document_id || "") } },
      h("q", { class: "snippet" }, String(e.snippet || "")),
      " ",
      h("cite", { class: "muted small" }, String(e.title || ""))),
  );
  return h(
    "li",
    { class: "finding", dataset: { criterion: f.id, verdict: f.verdict }, "aria-label": t.verdict_label(text, verdict) },
    h(
      "p",
      { class: "finding-head" },
      h("span", { class: "verdict", dataset: { verdict: f.verdict } }, h("span", { class: "mark", "aria-hidden": "true" }, MARKS[f.verdict] || "?"), " ", verdict),
      " ",
      h("span", { class: "finding-text" }, text),
      kind ? h("span", { class: "muted small" }, ` · ${kind}`) : null,
    ),
    evidence.length ? h("ul", { class: "evidence-list", "aria-label": t.evidence_for(text) }, evidence) : null,
  );
}

function resultItem(r, byId) {
  const href = askHref(r.ask_url);
  const name = String(r.name || r.bot);
  const order = current.criteria.map((c) => c.id);
  const findings = [...(r.criteria || [])].sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  return h(
    "li",
    { class: "result", dataset: { bot: String(r.bot || "") } },
    h(
      "div",
      { class: "result-head" },
      h("h3", { class: "result-name" }, name),
      href ? h("a", { class: "ask-link", href, target: "_blank", rel: "noopener noreferrer", "aria-label": t.ask_person_label(name) }, t.ask_person) : null,
    ),
    r.headline ? h("p", { class: "headline muted" }, String(r.headline)) : null,
    h("ul", { class: "findings", "aria-label": t.findings_of(name) }, findings.map((f) => finding(f, byId.get(f.id)))),
  );
}

function showQuota(quota) {
  if (!quota) return;
  let text = quota.limit ? t.searches_left(quota.remaining, quota.limit) : t.searches_left_none;
  if (quota.reset_at) text += " · " + t.quota_resets(when(quota.reset_at));
  $("quota").textContent = text;
}

function showSearch(view) {
  current = view;
  draft = view.criteria.map((c) => ({ ...c }));
  $("query").value = view.query;
  $("criteria-section").hidden = false;
  $("criteria-status").textContent = "";
  renderCriteria();
  const byId = new Map(view.criteria.map((c) => [c.id, c]));
  const { people_searched, matched, shown } = view.counts;
  let counts = t.talent_counts(people_searched, matched);
  if (shown < matched) counts += " · " + t.talent_shown(shown);
  $("counts").textContent = counts;
  $("results").replaceChildren(...view.results.map((r) => resultItem(r, byId)));
  $("no-results").hidden = view.results.length > 0;
  $("results-section").hidden = false;
  showQuota(view.quota);
}

// ------------------------------------------------------------------ saved searches
function savedItem(s) {
  const off = s.criteria.filter((c) => !c.enabled).length;
  const facts = [when(s.created_at), t.criteria_count(s.criteria.length, off), t.talent_counts(s.counts.people_searched, s.counts.matched)];
  return h(
    "li",
    { class: "saved", dataset: { id: s.id } },
    h("p", { class: "saved-query" }, s.query),
    h("p", { class: "muted small" }, facts.filter(Boolean).join(" · ")),
    h(
      "button",
      {
        type: "button",
        class: "ghost small run-again",
        "aria-label": t.run_again_label(s.query),
        onclick: () => search({ query: s.query, limit: s.limit, criteria: s.criteria.map(edit) }),
      },
      t.run_again,
    ),
  );
}

async function loadSaved(more = false) {
  $("saved-error").textContent = "";
  const query = new URLSearchParams({ limit: String(SAVED_PAGE) });
  if (more && oldest) query.set("before", oldest);
  try {
    const { searches } = await call("GET", `/api/talent/searches?${query}`);
    const items = searches.map(savedItem);
    if (more) $("saved").append(...items);
    else $("saved").replaceChildren(...items);
    if (searches.length) oldest = searches[searches.length - 1].created_at;
    $("saved-more").hidden = searches.length < SAVED_PAGE;
    $("no-saved").hidden = $("saved").children.length > 0;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signedOut();
    $("saved-error").textContent = errorText(t, error);
  }
}

$("saved-more").addEventListener("click", () => loadSaved(true));

// ------------------------------------------------------------------ start
translate(document, t);
boot();
document.documentElement.dataset.ready = "true";
