// Streaming generated text out of the batched decoder: put() receives each row's newly visible text (as returned by
// RowStopper.push), end() is called once per row with its finish reason.

import type { FinishReason } from './stopping.js';

export interface Streamer {
  put(row: number, text: string): void;
  end(row: number, finish: FinishReason): void;
}

/** A Streamer over callbacks; empty text pieces are not passed on. */
export function callbackStreamer(
  onText: (row: number, text: string) => void,
  onEnd?: (row: number, finish: FinishReason) => void,
): Streamer {
  return {
    put(row, text) {
      if (text.length > 0) onText(row, text);
    },
    end(row, finish) {
      onEnd?.(row, finish);
    },
  };
}
