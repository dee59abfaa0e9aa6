// Cancelling an order (asks once more, in the page rather than a blocking dialog).

import { api, describe, showError } from "./api.js";

for (const box of document.querySelectorAll("[data-cancel]")) {
  const ask = box.querySelector('[data-action="ask-cancel"]');
  const confirm = box.querySelector("[data-confirm]");
  const yes = box.querySelector('[data-action="cancel"]');
  const errorEl = box.querySelector("[data-error]");
  ask.addEventListener("click", () => {
    confirm.hidden = false;
    ask.hidden = true;
    yes.focus();
  });
  box.querySelector('[data-action="keep"]').addEventListener("click", () => {
    confirm.hidden = true;
    ask.hidden = false;
    ask.focus();
  });
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    showError(errorEl, "");
    try {
      await api("POST", box.dataset.cancelUrl);
      location.reload();
    } catch (error) {
      yes.disabled = false;
      showError(errorEl, describe(error));
    }
  });
}
