// k6 provides `console` in every context, but @types/k6 does not declare it and
// the DOM or Node typings would bring in globals k6 lacks (fetch, setTimeout).
declare var console: {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  debug(...data: unknown[]): void;
};
