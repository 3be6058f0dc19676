// What every route of the server shares: the model, its tokenizer and display strings, the request limits, the model
// card, and the checks every request makes (model name, prompt encoding).

import type { TokenLevelModel } from '../lm/language-model.js';
import type { ByteTokenizer } from '../tokenizer/index.js';
import { TokenStrings } from './logprobs.js';
import { ApiError, type Limits } from './validate.js';

export interface ModelCard {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  root: string;
  parent: null;
  max_model_len: number;
}

export interface ServerContext {
  lm: TokenLevelModel;
  tok: ByteTokenizer;
  strings: TokenStrings;
  limits: Limits;
  /** Largest accepted request body in bytes. */
  maxBody: number;
  /** The model's context length in tokens. */
  contextLength: number;
  modelCard: ModelCard;
  /** 404 unless `model` is absent or the served model's id. */
  checkModel(model: string | undefined): void;
  /** The tokens of prompt `i` (400 naming 'prompt' when the tokenizer cannot encode it). */
  encodePrompt(text: string, i: number): number[];
}

export function modelNotFound(model: string, served: string): ApiError {
  return new ApiError(404, `the model '${model}' does not exist; this server serves '${served}'`, 'model', 'invalid_request_error', 'model_not_found');
}

export function createContext(lm: TokenLevelModel, limits: Limits, maxBody: number): ServerContext {
  const tok = lm.tokenizer;
  const created = Math.floor(Date.now() / 1000);
  return {
    lm,
    tok,
    strings: new TokenStrings(tok),
    limits,
    maxBody,
    contextLength: lm.contextLength,
    modelCard: { id: lm.name, object: 'model', created, owned_by: 'tessera', root: lm.name, parent: null, max_model_len: lm.contextLength },
    checkModel(m) {
      if (m !== undefined && m !== lm.name) throw modelNotFound(m, lm.name);
    },
    encodePrompt(text, i) {
      try {
        return tok.encode(text);
      } catch (e) {
        throw new ApiError(400, `prompt ${i}: ${(e as Error).message}`, 'prompt');
      }
    },
  };
}
