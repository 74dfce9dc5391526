import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { type RequestHandler, Router } from 'express';

/** Where swagger-ui-dist's files are. */
export const swaggerUiDir = () =>
  dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/**
 * The reference page's policy: only the door's own scripts and styles (no
 * inline code), the document fetched from the door, nothing framed or posted.
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TaskSync API reference</title>
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

/** Swagger UI on the merged document, from a file of its own: the CSP allows no inline script. */
export const DOCS_INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

/** The files of swagger-ui-dist the page uses; its own index.html and initializer are not served. */
export const DOCS_ASSETS = new Set([
  'swagger-ui.css',
  'swagger-ui-bundle.js',
  'favicon-32x32.png',
  'favicon-16x16.png',
]);

const strict: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', DOCS_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
};

/**
 * `GET /docs`: the API reference page, Swagger UI (swagger-ui-dist from npm)
 * rendering the door's `/openapi.json`, under a strict Content-Security-Policy.
 */
export const docsRoutes = () => {
  const router = Router();
  const dist = swaggerUiDir();
  router.use('/docs', strict);
  router.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('js').send(DOCS_INIT);
  });
  const assets = express.static(dist, { index: false, maxAge: '1h', fallthrough: true });
  router.get('/docs/:file', (req, res, next) => {
    if (!DOCS_ASSETS.has(req.params.file)) return next();
    req.url = `/${req.params.file}`;
    return assets(req, res, next);
  });
  return router;
};
