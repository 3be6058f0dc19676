// GET /v1/models (a list with the one served model) and GET /v1/models/{id}.

import type { ServerContext } from '../context.js';
import { modelNotFound } from '../context.js';
import { sendJson, type Handler } from '../http.js';

export function modelsHandler(sc: ServerContext): Handler {
  return async (_req, res, { path }) => {
    if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data: [sc.modelCard] });
    const raw = path.slice('/v1/models/'.length);
    let want = raw;
    try {
      want = decodeURIComponent(raw);
    } catch {
      // malformed escapes: compare the raw text
    }
    if (want !== sc.lm.name) throw modelNotFound(want, sc.lm.name);
    sendJson(res, 200, sc.modelCard);
  };
}
