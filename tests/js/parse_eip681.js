// Parse EIP-681 payment URIs with an independent parser (npm eth-url-parser) for the tests.
// Input: a JSON array of URIs on stdin. Output: a JSON array of parse results on stdout, amounts
// (`value`, `uint256`) written as plain integer strings; a URI the parser rejects gives
// {"error": message}.
"use strict";

const { parse } = require("eth-url-parser");

// bignumber.js writes 1e21 and above in exponent form ("1.5e+21"): write all digits instead.
function plainInteger(text) {
  const match = /^(\d+)(?:\.(\d+))?e\+?(\d+)$/.exec(text);
  if (!match) {
    return text;
  }
  const [, whole, fraction = "", exponent] = match;
  const digits = whole + fraction;
  const zeros = Number(exponent) - fraction.length;
  return zeros >= 0 ? digits + "0".repeat(zeros) : text;
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const results = JSON.parse(input).map((uri) => {
    try {
      const parsed = parse(uri);
      for (const key of ["value", "uint256"]) {
        if (parsed.parameters && parsed.parameters[key] !== undefined) {
          parsed.parameters[key] = plainInteger(String(parsed.parameters[key]));
        }
      }
      return parsed;
    } catch (error) {
      return { error: String(error && error.message ? error.message : error) };
    }
  });
  process.stdout.write(JSON.stringify(results));
});
