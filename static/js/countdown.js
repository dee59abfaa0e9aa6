// A countdown to a server-given instant. The page also carries the server's "now", so a
// wrong clock on the buyer's device does not shorten or stretch the time shown.

export function clockOffset(serverNowIso) {
  const serverNow = Date.parse(serverNowIso);
  return Number.isFinite(serverNow) ? serverNow - Date.now() : 0;
}

export function format(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return `${String(minutes).padStart(2, "0")}:${String(seconds).padStart(2, "0")}`;
}

export function startCountdown(el, expiresAtIso, { offset = 0, onExpire, onTick } = {}) {
  let expiresAt = Date.parse(expiresAtIso);
  let timer = null;
  let done = false;
  const tick = () => {
    const left = expiresAt - (Date.now() + offset);
    el.textContent = format(left);
    el.setAttribute("aria-label", `${Math.floor(Math.max(0, left) / 60000)} minutes ${Math.ceil(Math.max(0, left) / 1000) % 60} seconds left`);
    el.classList.toggle("urgent", left < 60_000);
    if (onTick) onTick(left);
    if (left <= 0 && !done) {
      done = true;
      clearInterval(timer);
      if (onExpire) onExpire();
    }
  };
  timer = setInterval(tick, 250);
  tick();
  return {
    update(newExpiresAtIso) {
      expiresAt = Date.parse(newExpiresAtIso);
      if (done) {
        done = false;
        timer = setInterval(tick, 250);
      }
      tick();
    },
    stop() {
      clearInterval(timer);
      done = true;
    },
  };
}
