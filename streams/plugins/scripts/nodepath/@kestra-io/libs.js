// `@kestra-io/libs`: Kestra's helper library for Node.js scripts, as its npm package
// behaves (our own implementation; on NODE_PATH of every node task, so no npm install).
// A script tells its task about outputs, metrics and log lines by printing one JSON
// object between `::` on a line of its own.
"use strict";

function Kestra() {}

Kestra.format = (map) => {
  // Line separators inside strings would split the line the task reads.
  const text = JSON.stringify(map).replace(/[\u0085\u2028\u2029]/g, (c) =>
    "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  return "::" + text + "::";
};

Kestra._send = (map) => {
  console.log(Kestra.format(map));
};

Kestra._metrics = (name, type, value, tags) => {
  Kestra._send({ metrics: [{ name, type, value, tags: tags || {} }] });
};

Kestra.outputs = (outputs) => Kestra._send({ outputs });
Kestra.assets = (assets) => Kestra._send({ assets });
Kestra.counter = (name, value, tags) => Kestra._metrics(name, "counter", value, tags);
Kestra.gauge = (name, value, tags) => Kestra._metrics(name, "gauge", value, tags);

// A duration in seconds, or a function given a `done` callback to call when finished.
Kestra.timer = (name, duration, tags) => {
  if (typeof duration === "function") {
    const start = Date.now();
    duration(() => Kestra._metrics(name, "timer", (Date.now() - start) / 1000, tags));
  } else {
    Kestra._metrics(name, "timer", duration, tags);
  }
};

function text(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function logLine(level, messages) {
  return Kestra.format({ logs: messages.map((m) => ({ level, message: text(m) })) });
}

Kestra.logger = () => ({
  trace: (...m) => console.log(logLine("TRACE", m)),
  debug: (...m) => console.log(logLine("DEBUG", m)),
  info: (...m) => console.log(logLine("INFO", m)),
  warn: (...m) => console.error(logLine("WARN", m)),
  error: (...m) => console.error(logLine("ERROR", m)),
});

module.exports = Kestra;
module.exports.default = Kestra;
