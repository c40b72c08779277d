// Pay from a browser wallet (EIP-1193), found through EIP-6963 discovery or window.ethereum.
// The page renders the option's transfer in data- attributes of [data-browser-wallet]: the chain
// (hex id, name, native coin, a public RPC URL or ""), the deposit address, the token contract
// ("" for the native coin) and the amount in base units as a decimal string, plus its texts in
// the page's language. With no wallet nothing shows: the address, the QR code and the EIP-681
// link stay. After eth_sendTransaction the page follows the payment as for any transfer (pay.js).
(() => {
  "use strict";

  const TRANSFER = "0xa9059cbb"; // transfer(address,uint256)
  const announced = new Map(); // EIP-6963 uuid → {info, provider}
  let busy = false;

  function word(value) {
    return value.replace(/^0x/, "").toLowerCase().padStart(64, "0");
  }

  function transaction(box, from) {
    const data = box.dataset;
    const amount = BigInt(data.amountBaseUnits);
    if (data.token) {
      return {
        from, to: data.token, value: "0x0",
        data: TRANSFER + word(data.deposit) + word(amount.toString(16)),
      };
    }
    return { from, to: data.deposit, value: "0x" + amount.toString(16) };
  }

  function codeOf(error) {
    if (!error) return undefined;
    if (error.relay) return error.relay;
    const nested = error.data && error.data.originalError;
    return error.code !== undefined ? error.code : nested && nested.code;
  }

  function textOf(box, error) {
    const code = codeOf(error);
    const said = `${(error && error.message) || ""} ${(error && error.data && error.data.message) || ""}`;
    const text = box.dataset;
    if (code === 4001) return text.textRejected;
    if (code === -32002) return text.textBusy;
    if (code === "wrong-chain") return text.textWrongChain;
    if (code === "unknown-chain") return text.textUnknownChain;
    if (/insufficient (funds|balance)|exceeds (the )?balance/i.test(said)) return text.textFunds;
    return text.textFailed;
  }

  function say(box, text, failed) {
    const status = box.querySelector("[data-wallet-status]");
    status.textContent = text;
    status.classList.toggle("error", Boolean(failed));
  }

  async function onChain(provider, box) {
    const want = parseInt(box.dataset.chainId, 16);
    if (parseInt(await provider.request({ method: "eth_chainId" }), 16) === want) return;
    say(box, box.dataset.textSwitching);
    try {
      await provider.request({
        method: "wallet_switchEthereumChain", params: [{ chainId: box.dataset.chainId }],
      });
    } catch (error) {
      if (codeOf(error) !== 4902) throw error;
      if (!box.dataset.rpcUrl) throw { relay: "unknown-chain" };
      await provider.request({
        method: "wallet_addEthereumChain",
        params: [{
          chainId: box.dataset.chainId,
          chainName: box.dataset.chainName,
          nativeCurrency: {
            name: box.dataset.nativeName,
            symbol: box.dataset.nativeSymbol,
            decimals: Number(box.dataset.nativeDecimals),
          },
          rpcUrls: [box.dataset.rpcUrl],
        }],
      });
    }
    if (parseInt(await provider.request({ method: "eth_chainId" }), 16) !== want) {
      throw { relay: "wrong-chain" };
    }
  }

  async function pay(provider, box) {
    if (busy) return;
    busy = true;
    box.setAttribute("aria-busy", "true");
    try {
      say(box, box.dataset.textConnecting);
      const [from] = await provider.request({ method: "eth_requestAccounts" });
      await onChain(provider, box);
      say(box, box.dataset.textConfirm);
      const hash = await provider.request({
        method: "eth_sendTransaction", params: [transaction(box, from)],
      });
      box.dataset.txHash = hash;
      say(box, box.dataset.textSent);
      document.dispatchEvent(new Event("relay:poll")); // look for the payment now
    } catch (error) {
      say(box, textOf(box, error), true);
    } finally {
      busy = false;
      box.removeAttribute("aria-busy");
    }
  }

  function wallets() {
    if (announced.size) return [...announced.values()];
    return window.ethereum ? [{ info: null, provider: window.ethereum }] : [];
  }

  function render() {
    const box = document.querySelector("[data-browser-wallet]");
    const found = wallets();
    if (!box || !found.length) return;
    const list = box.querySelector("[data-wallet-buttons]");
    list.replaceChildren(...found.map(({ info, provider }) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button wallet-button";
      if (info && info.icon && /^data:image\//.test(info.icon)) {
        const icon = document.createElement("img");
        icon.src = info.icon;
        icon.alt = "";
        icon.width = icon.height = 20;
        button.append(icon);
      }
      const name = info && info.name;
      button.append(name ? box.dataset.labelNamed.replace("{wallet}", name) : box.dataset.label);
      if (info) button.dataset.wallet = info.rdns || info.name;
      button.addEventListener("click", () => pay(provider, box));
      return button;
    }));
    box.hidden = false;
  }

  window.addEventListener("eip6963:announceProvider", (event) => {
    const detail = event.detail;
    if (detail && detail.info && detail.provider) {
      announced.set(detail.info.uuid, detail);
      render();
    }
  });
  document.addEventListener("relay:page", render); // pay.js swapped in a new <main>
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
})();
