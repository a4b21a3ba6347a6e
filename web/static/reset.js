// The password reset page (/reset#token=...). The reset mail's link carries its
// single-use token in the fragment, which reaches no server and no Referer. The page
// takes the token and clears it from the address bar at once (history.replaceState, so
// no reload, bookmark or shared screen shows it), asks for the new password twice,
// confirms it, signs in with it and goes to the dashboard.
import { accounts, saveSession } from "./api.js";
import { submitForm } from "./forms.js";
import { errorText, pickLanguage, strings, translate } from "./i18n.js";

const explicit = new URLSearchParams(location.search).get("lang");
const lang = pickLanguage(explicit);
const t = strings(lang);
document.documentElement.lang = lang;
document.title = `${t.reset_title} · Protostar`;
const $ = (id) => document.getElementById(id);
// A link that cannot be used (again): the answer is to ask for a new one.
const DEAD = new Set(["invalid_reset_token", "reset_token_used", "reset_token_expired"]);

function withLang(path) {
  return explicit ? `${path}${path.includes("?") ? "&" : "?"}lang=${lang}` : path;
}

function takeToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

function end(view, text, link) {
  $("reset-view").hidden = true;
  $("reset-dead").hidden = view !== "reset-dead";
  $(`${view}-text`).textContent = text;
  $(link).focus();
}

translate(document, t);
$("ask-again").href = withLang("/dashboard?view=forgot");
const token = takeToken();
if (token) {
  $("reset-view").hidden = false;
  $("reset-form").elements.password.focus();
} else {
  end("reset-dead", t.reset_no_link, "ask-again");
}

const differ = (f) => (f.password.value === f.repeat.value ? null : { input: f.repeat, text: t.passwords_differ });

$("reset-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitForm(
    event.currentTarget,
    $("reset-error"),
    t,
    async (f) => {
      const password = f.password.value;
      let answer;
      try {
        answer = await accounts.confirmPasswordReset(token, password);
      } catch (error) {
        if (error && DEAD.has(error.code)) return end("reset-dead", errorText(t, error), "ask-again");
        throw error;
      }
      // The confirmation signs out every session of the account and answers a new one.
      saveSession(answer);
      location.replace(withLang("/dashboard"));
    },
    differ,
  );
});
