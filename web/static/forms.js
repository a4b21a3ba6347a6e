// The account forms of the dashboard and the reset page. Their fields are checked here,
// in the page's language: the browser's own bubbles speak the browser's language, which
// need not be the page's. Failed calls are told by their error code (i18n.errorText).
import { errorText } from "./i18n.js";

function labelOf(input) {
  const label = input.closest("label");
  return (label && label.querySelector("span")?.textContent) || input.name;
}

// The first field that is wrong and what to say about it, or null.
export function firstProblem(form, t) {
  for (const input of form.querySelectorAll("input")) {
    const value = input.value.trim();
    if (input.required && !value) return { input, text: t.field_required(labelOf(input)) };
    if (!value) continue;
    if (input.type === "email" && input.validity.typeMismatch) return { input, text: t.errors.invalid_email };
    if (input.type === "password" && input.minLength > 0 && input.value.length < input.minLength) {
      return { input, text: t.password_short };
    }
  }
  return null;
}

function mark(input, outlet, text) {
  outlet.textContent = text;
  if (!input) return;
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

// Check the form (and `check(form.elements)`, a page's own rule that answers a problem
// or null), then run `work(form.elements)` with its submit button disabled; a problem or
// a failed call is written to `outlet` (a role=alert element) and the field it names (a
// 400's `field`) is marked and focused.
export async function submitForm(form, outlet, t, work, check = () => null) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  outlet.textContent = "";
  const problem = firstProblem(form, t) || check(form.elements);
  if (problem) return mark(problem.input, outlet, problem.text);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    await work(form.elements);
  } catch (error) {
    const field = error && error.details && typeof error.details.field === "string" ? error.details.field : "";
    const input = field && form.elements.namedItem(field) instanceof HTMLInputElement ? form.elements.namedItem(field) : null;
    mark(input, outlet, errorText(t, error));
  } finally {
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}
