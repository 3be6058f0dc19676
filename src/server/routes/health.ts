// GET /health: liveness (no API key needed).

import type { ServerContext } from '../context.js';
import { sendJson, type Handler } from '../http.js';

export function healthHandler(sc: ServerContext): Handler {
  return async (_req, res) => sendJson(res, 200, { status: 'ok', model: sc.lm.name });
}
