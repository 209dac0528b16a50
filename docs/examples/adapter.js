#!/usr/bin/env node
// A minimal liqspec adapter in JavaScript, for the margin subset: the "maintenance", "fee"
// and "shares" vector kinds (spec/13-conformance.md, spec/protocol.md). Every number is a
// BigInt in base units, as the spec's number model asks; no floating point anywhere.
//
// Run it against the suite:  liqspec conformance --impl "node docs/examples/adapter.js"
'use strict';

const readline = require('readline');

const DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

// CONV-1: exact decimal text (or an integer) -> {num, den}, den a power of ten.
function parseDecimal(text) {
  const s = String(text);
  if (!DECIMAL.test(s)) throw new Error('not-a-decimal');
  const negative = s.startsWith('-');
  const [whole, fraction = ''] = (negative ? s.slice(1) : s).split('.');
  const num = BigInt(whole + fraction);
  return { num: negative ? -num : num, den: 10n ** BigInt(fraction.length) };
}

// CONV-4: a maintenance rate, as a decimal or an exact fraction "n/d".
const FRACTION = /^([1-9][0-9]*)\/([1-9][0-9]*)$/;
function parseRate(text) {
  const found = FRACTION.exec(String(text));
  if (found === null) return parseDecimal(text);
  return { num: BigInt(found[1]), den: BigInt(found[2]) };
}

// MARKET-1: with mmr_from_max_leverage, a tier's mmr is half its imr (imr = 1/max_leverage).
function mmrOf(tier, halved) {
  if (!halved) return parseRate(tier.mmr);
  const imr = tier.imr !== undefined ? parseDecimal(tier.imr) : (() => {
    const leverage = parseDecimal(tier.max_leverage);
    return { num: leverage.den, den: leverage.num };
  })();
  return { num: imr.num, den: 2n * imr.den };
}

// CONV-3: a decimal as a whole number of `unit` ({num, den}), or off-grid.
function toUnits(text, unit) {
  const v = parseDecimal(text);
  const n = v.num * unit.den;
  const d = v.den * unit.num;
  if (n % d !== 0n) throw new Error('off-grid');
  return n / d;
}

// CONV-1, CONV-2: a whole number of quantums, written as decimal text or a JSON integer.
function quantumsOf(value) {
  if (typeof value !== 'string' && !Number.isInteger(value)) throw new Error('not-a-decimal');
  const text = String(value);
  if (text.length > 40) throw new Error('magnitude');
  return toUnits(text, { num: 1n, den: 1n });
}

// CONV-5, CONV-6: floor and ceiling division, b > 0 (BigInt `/` truncates toward zero).
function divFloor(a, b) {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}
function divCeil(a, b) {
  return -divFloor(-a, b);
}

// Render quantums x quantum as the shortest exact decimal text (the reports' format).
function amountText(quantums, quantum) {
  let num = quantums * quantum.num;
  const den = quantum.den;
  const negative = num < 0n;
  if (negative) num = -num;
  const digits = den.toString().length - 1;
  let text = (num / den).toString();
  let fraction = (num % den).toString().padStart(digits, '0').replace(/0+$/, '');
  if (fraction) text += '.' + fraction;
  return (negative && num !== 0n ? '-' : '') + text;
}

// MARKET-10: tiers in quantums, with maintenance amounts given or derived by the recursion.
function tiersOf(document) {
  const quantum = parseDecimal(document.market.settle_quantum);
  const continuous = document.market.tier_mode === 'continuous';
  const tiers = document.tiers.map((t) => ({
    floor: toUnits(t.floor, quantum),
    cap: toUnits(t.cap, quantum),
    mmr: mmrOf(t, document.market.mmr_from_max_leverage === true),
    amount: t.maintenance_amount === undefined ? null : toUnits(t.maintenance_amount, quantum),
  }));
  let cum = { num: 0n, den: 1n };
  tiers.forEach((tier, i) => {
    if (i > 0) {
      const a = tiers[i - 1].mmr;
      const b = tier.mmr;
      const stepNum = tier.floor * (b.num * a.den - a.num * b.den);
      const stepDen = a.den * b.den;
      cum = { num: cum.num * stepDen + stepNum * cum.den, den: cum.den * stepDen };
    }
    if (!continuous) tier.amount = 0n;
    else if (tier.amount === null) {
      if (cum.num % cum.den !== 0n) throw new Error('maintenance-amount');
      tier.amount = cum.num / cum.den;
    }
  });
  return { tiers, quantum, continuous };
}

// MARGIN-4, MARGIN-5: the maintenance margin of a notional, rounded up, and its tier.
function maintenance(input) {
  const { tiers, quantum } = tiersOf(input.market);
  const notional = toUnits(input.notional, quantum);
  let index = tiers.findIndex((t) => notional < t.cap);
  if (index < 0) index = tiers.length - 1;
  const tier = tiers[index];
  const mm = divCeil(notional * tier.mmr.num, tier.mmr.den) - tier.amount;
  return { maintenance_margin: amountText(mm, quantum), tier: index + 1 };
}

// LIQ-8: the fee never exceeds the surplus and is never negative.
function fee(input) {
  const nominal = quantumsOf(input.nominal);
  const surplus = quantumsOf(input.surplus);
  let value = nominal < surplus ? nominal : surplus;
  if (value < 0n) value = 0n;
  return { fee: value.toString() };
}

// INS-3: telescoping shares of consecutive slices.
function shares(input) {
  if (input.cuts.length > 1000) throw new Error('magnitude'); // VEC-3: at most 1,000 cuts
  const deficit = quantumsOf(input.deficit);
  const total = quantumsOf(input.total);
  const points = [0n, ...input.cuts.map(quantumsOf), total];
  const out = [];
  for (let i = 1; i < points.length; i += 1) {
    out.push((divFloor(deficit * points[i], total) - divFloor(deficit * points[i - 1], total)).toString());
  }
  return { shares: out };
}

const KINDS = { maintenance, fee, shares };

function reply(message) {
  if (message.type === 'hello') {
    return { type: 'hello', protocol: 1, implementation: 'liqspec-js-example', version: '0.1.0',
             features: Object.keys(KINDS).sort() };
  }
  if (message.type !== 'case') return { type: 'errored', id: message.id || '', message: 'unknown message' };
  const handler = KINDS[message.kind];
  if (!handler) return { type: 'skipped', id: message.id, reason: `kind ${message.kind} not supported` };
  try {
    return { type: 'result', id: message.id, output: handler(message.input) };
  } catch (error) {
    return { type: 'result', id: message.id, error: error.message };
  }
}

const lines = readline.createInterface({ input: process.stdin, terminal: false });
lines.on('line', (line) => {
  const message = JSON.parse(line);
  if (message.type === 'bye') {
    lines.close();
    return;
  }
  process.stdout.write(JSON.stringify(reply(message)) + '\n');
});
