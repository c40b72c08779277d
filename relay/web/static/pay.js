// Keep the payment page live without reloads. The page works without this file (a reload shows
// the current state); with it:
// - the status is polled from the page's status.json; when its page_key differs from the one the
//   page was rendered with, the page is fetched again and its <main id="pay"> swapped in place;
// - the countdown runs every second on the server's clock (data-now), not the device's;
// - choosing another payment option swaps the page the same way instead of navigating;
// - copy buttons put the amount or the address on the clipboard;
// - it tells wallet.js of each new <main> (event "relay:page") and polls at once on "relay:poll"
//   (wallet.js has just sent the payment).
(() => {
  "use strict";

  let clockOffset = 0; // server seconds minus device seconds, from data-now
  let pollTimer = 0;
  let swapping = false;

  const root = () => document.getElementById("pay");

  function announce(text) {
    const region = document.getElementById("announce");
    if (region) {
      region.textContent = "";
      window.setTimeout(() => { region.textContent = text; }, 50);
    }
  }

  function formatSeconds(seconds) {
    const total = Math.max(Math.floor(seconds), 0);
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const secs = String(total % 60).padStart(2, "0");
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
  }

  function tick() {
    const page = root();
    const clock = page && page.querySelector("[data-countdown]");
    if (!clock) {
      return;
    }
    const left = Number(clock.dataset.expires) - (Date.now() / 1000 + clockOffset);
    clock.textContent = formatSeconds(left);
    if (left <= 0 && !clock.dataset.ended) {
      clock.dataset.ended = "1";
      poll(); // the server now shows the expired screen
    }
  }

  async function copy(button) {
    const text = button.dataset.copy;
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      // older browsers, or a page not served over HTTPS: select the text and copy that
      const field = document.createElement("textarea");
      field.value = text;
      field.setAttribute("readonly", "");
      field.className = "visually-hidden";
      document.body.appendChild(field);
      field.select();
      document.execCommand("copy");
      field.remove();
    }
    const label = button.textContent;
    const name = button.getAttribute("aria-label");
    button.textContent = button.dataset.copied;
    button.setAttribute("aria-label", button.dataset.copied); // the name keeps the visible text
    button.classList.add("copied");
    announce(button.dataset.copied);
    window.setTimeout(() => {
      button.textContent = label;
      button.setAttribute("aria-label", name);
      button.classList.remove("copied");
    }, 2000);
  }

  async function swap(url, replaceUrl) {
    if (swapping) {
      return;
    }
    swapping = true;
    try {
      const answer = await fetch(url, { cache: "no-store", credentials: "same-origin" });
      if (!answer.ok) {
        return;
      }
      const html = await answer.text();
      const next = new DOMParser().parseFromString(html, "text/html");
      const fresh = next.getElementById("pay");
      const current = root();
      if (!fresh || !current) {
        return;
      }
      const focusedId = document.activeElement && document.activeElement.id;
      const focusedOption = document.activeElement && document.activeElement.dataset
        ? document.activeElement.dataset.option : undefined;
      const oldHeadline = current.querySelector("[data-headline]");
      current.replaceWith(fresh);
      document.title = next.title;
      if (replaceUrl) {
        window.history.replaceState(null, "", url);
      }
      const headline = fresh.querySelector("[data-headline]");
      if (headline && (!oldHeadline || oldHeadline.textContent !== headline.textContent)) {
        announce(headline.textContent);
      }
      setup(fresh);
      const again = focusedOption
        ? fresh.querySelector(`[data-option="${focusedOption}"]`)
        : focusedId && document.getElementById(focusedId);
      if (again) {
        again.focus();
      }
    } catch (error) {
      // offline for a moment: the next poll tries again
    } finally {
      swapping = false;
    }
  }

  async function poll() {
    const page = root();
    if (!page || !page.dataset.statusUrl) {
      return;
    }
    window.clearTimeout(pollTimer);
    let keepPolling = page.dataset.poll === "1";
    try {
      const answer = await fetch(page.dataset.statusUrl, {
        cache: "no-store",
        headers: { Accept: "application/json" },
      });
      if (answer.ok) {
        const status = await answer.json();
        keepPolling = status.poll;
        if (status.page_key !== page.dataset.key) {
          await swap(window.location.href, false);
          if (root() !== page) {
            return; // setup() of the new page has scheduled the next poll
          }
        }
      }
    } catch (error) {
      // offline for a moment: try again on the next tick
    }
    schedule(keepPolling);
  }

  function schedule(keepPolling) {
    const page = root();
    window.clearTimeout(pollTimer);
    if (keepPolling && page) {
      pollTimer = window.setTimeout(poll, Number(page.dataset.pollSeconds || 3) * 1000);
    }
  }

  function setup(page) {
    clockOffset = Number(page.dataset.now) - Date.now() / 1000;
    page.querySelectorAll("button[data-copy]").forEach((button) => {
      button.hidden = false;
      button.addEventListener("click", () => copy(button));
    });
    page.querySelectorAll("a[data-option]").forEach((link) => {
      link.addEventListener("click", (event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) {
          return; // a new tab or window: let the browser open the link
        }
        event.preventDefault();
        swap(link.href, true);
      });
    });
    tick();
    schedule(page.dataset.poll === "1");
    document.dispatchEvent(new Event("relay:page"));
  }

  function start() {
    const page = root();
    if (!page) {
      return;
    }
    setup(page);
    window.setInterval(tick, 1000);
    document.addEventListener("relay:poll", () => poll());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && root().dataset.poll === "1") {
        poll();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
