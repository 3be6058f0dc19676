// vLLM's tokenizer endpoints, the ones lm-evaluation-harness's remote tokenizer (tokenizer_backend=remote) calls at the
// server root (its base_url with /v1/completions removed):
//   POST /tokenize {model?, prompt, add_special_tokens?, return_token_strs?} → {count, max_model_len, tokens, token_strs}
//   POST /detokenize {model?, tokens} → {prompt}
//   GET /tokenizer_info → the tokenizer's configuration (tokenizer_config.json-like: eos_token, bos_token, pad_token,
//     model_max_length, …); lm-eval reads eos_token / bos_token and gets their ids by tokenizing them.
// tessera's tokenizers add no special tokens, so add_special_tokens changes nothing (as with GPT-2's); special-token
// text ("<|endoftext|>") is always read as the special token, as Hugging Face tokenizers do. token_strs are the
// tokens' display strings (text, or "bytes:\xNN…"), not Hugging Face's byte-alphabet spellings.

import type { ServerContext } from '../context.js';
import { readJson, sendJson, type Handler } from '../http.js';
import { parseDetokenizeRequest, parseTokenizeRequest } from '../validate.js';

export function tokenizeHandler(sc: ServerContext): Handler {
  return async (req, res) => {
    const r = parseTokenizeRequest(await readJson(req, sc.maxBody));
    sc.checkModel(r.model);
    const tokens = sc.encodePrompt(r.prompt, 0);
    const token_strs = r.returnTokenStrs ? tokens.map((id) => sc.strings.get(id)) : null;
    sendJson(res, 200, { count: tokens.length, max_model_len: sc.contextLength, tokens, token_strs });
  };
}

export function detokenizeHandler(sc: ServerContext): Handler {
  return async (req, res) => {
    const r = parseDetokenizeRequest(await readJson(req, sc.maxBody), sc.tok.vocabSize);
    sc.checkModel(r.model);
    sendJson(res, 200, { prompt: sc.tok.decode(r.tokens) });
  };
}

/** The special tokens of a tokenizer: a BPE's own list, else just the end-of-text token. */
function specialTokens(sc: ServerContext): Map<number, string> {
  const out = new Map<number, string>();
  const listed = (sc.tok as { specialTokens?: ReadonlyMap<string, number> }).specialTokens;
  if (listed) for (const [text, id] of listed) out.set(id, text);
  const eot = sc.tok.eotId;
  if (eot !== undefined && !out.has(eot)) out.set(eot, sc.tok.decode([eot]));
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

export function tokenizerInfo(sc: ServerContext): Record<string, unknown> {
  const tok = sc.tok;
  const eot = tok.eotId;
  const eotText = eot !== undefined ? tok.decode([eot]) : null;
  return {
    tokenizer_class: tok.constructor.name,
    tokenizer_id: tok.id,
    // GPT-2's convention: the end-of-text token is also the beginning-of-sequence token
    bos_token: eotText,
    eos_token: eotText,
    unk_token: null,
    pad_token: null,
    bos_token_id: eot ?? null,
    eos_token_id: eot ?? null,
    pad_token_id: null,
    add_bos_token: false,
    add_eos_token: false,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    model_max_length: sc.contextLength,
    vocab_size: tok.vocabSize,
    added_tokens_decoder: Object.fromEntries([...specialTokens(sc)].map(([id, text]) => [String(id), text])),
  };
}

export function tokenizerInfoHandler(sc: ServerContext): Handler {
  const info = tokenizerInfo(sc);
  return async (_req, res) => sendJson(res, 200, info);
}
