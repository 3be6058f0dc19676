// Losses of the DALL·E dVAE (Ramesh et al. 2021, §2.1, App. A): the logit-Laplace reconstruction likelihood, the KL
// of the encoder's categorical q(z|x) = softmax(logits) to the uniform prior over the K codes, the Gumbel-softmax
// relaxation, the total ELBO loss and the VQ-VAE alternative (codebook + commitment losses, straight-through).
//
// Normalisation (App. A: "we divide the loss by 256·256·3"): per image, the loss is
//     ( Σ_pixels,channels NLL  +  β · Σ_latent positions KL ) / (C·H·W)
// and the batch loss is its mean over the N images. So the reconstruction term is the mean NLL per sub-pixel and the
// effective KL weight is β·(h·w)/(C·H·W) per latent (β/192 at 256×256 → 32×32).
// τ and β are tensors (fed as scalar data inputs) so they follow their schedules without recompiling.
//
// Two options outside the paper, for short runs (both off by default): the reconstruction term can be the mean
// squared error of sigmoid(μ) against the mapped pixels instead of the logit-Laplace NLL (on the shapes data, 600
// steps of a continuous autoencoder of this architecture reach 16.4 dB PSNR with logit-Laplace — the learned scale b
// sharpens the white background first — and 20.4 dB with MSE; DALLE-pytorch uses MSE too), and a codebook-diversity
// penalty λ·(log K − H(p̄)) on the mean code distribution p̄ of the batch (wav2vec 2.0's), against code collapse.

import * as T from '../engine/index.js';
import type { Tensor } from '../engine/tensor.js';
import type { ForwardCtx } from '../nn/layers.js';
import { codeDistances, mapPixels, type Dvae } from './dvae.js';

/**
 * Elementwise −log f(x | μ, b) of the logit-Laplace distribution on (0, 1), x already mapped to (ε, 1 − ε):
 * |logit(x) − μ| / b + log(2b) + log(x(1 − x)), with b = exp(ln b). All three are (N, C, H, W).
 */
export function logitLaplaceNll(xMapped: Tensor, mu: Tensor, lnB: Tensor): Tensor {
  const logitX = T.log(T.div(xMapped, T.sub(1, xMapped))); // (N, C, H, W)
  const dev = T.mul(T.abs(T.sub(logitX, mu)), T.exp(T.neg(lnB))); // |logit(x) − μ| / b
  const logNorm = T.add(lnB, Math.LN2); // log(2b)
  const logJac = T.log(T.mul(xMapped, T.sub(1, xMapped))); // log(x(1 − x))
  return T.add(T.add(dev, logNorm), logJac);
}

/** KL(softmax(logits) ‖ uniform over K) at each latent position: Σ_k q_k (log q_k + log K). (N, K, h, w) → (N, h, w). */
export function klToUniform(logits: Tensor): Tensor {
  const K = logits.shape[1]!;
  const logQ = T.logSoftmax(logits, 1); // (N, K, h, w)
  return T.sum(T.mul(T.exp(logQ), T.add(logQ, Math.log(K))), 1); // (N, h, w)
}

export const GUMBEL_STREAM = T.streamId('dvae.gumbel');

/**
 * Gumbel-softmax relaxation over the code axis: softmax((logits + g) / τ, axis 1) with g ~ Gumbel(0, 1) drawn from
 * the step's seed; without a seed (evaluation) the noise is left out. logits (N, K, h, w), tau broadcastable ([1]).
 */
export function gumbelSoftmax(logits: Tensor, tau: Tensor, seed: Tensor | undefined, stream = GUMBEL_STREAM): Tensor {
  const noisy = seed ? T.add(logits, T.randomGumbel(logits.shape, seed, stream)) : logits;
  return T.softmax(T.div(noisy, tau), 1); // (N, K, h, w)
}

export interface ElboTerms {
  /** The loss to minimise (scalar), normalised as in the header. */
  loss: Tensor;
  /** Mean over images of Σ NLL (scalar). */
  nll: Tensor;
  /** Mean over images of Σ KL (scalar). */
  kl: Tensor;
}

/**
 * The dVAE loss of App. A from the mapped input (N, C, H, W), the decoder stats (N, 2C, H, W: μ then ln b) and the
 * encoder logits (N, K, h, w); beta broadcastable ([1]).
 */
export function dvaeElbo(xMapped: Tensor, stats: Tensor, logits: Tensor, beta: Tensor): ElboTerms {
  const C = xMapped.shape[1]!;
  const mu = T.narrow(stats, 1, 0, C); // (N, C, H, W)
  const lnB = T.narrow(stats, 1, C, C); // (N, C, H, W)
  return normalisedLoss(xMapped, T.sum(logitLaplaceNll(xMapped, mu, lnB), [1, 2, 3]), logits, beta);
}

/** (reconstruction + β · Σ KL) / (C·H·W) per image, averaged over images, from the per-image reconstruction term (N). */
function normalisedLoss(xMapped: Tensor, recPerImage: Tensor, logits: Tensor, beta: Tensor): ElboTerms {
  const [, C, H, W] = xMapped.shape as [number, number, number, number];
  const klPerImage = T.sum(klToUniform(logits), [1, 2]); // (N)
  const perImage = T.add(recPerImage, T.mul(T.reshape(beta, [1]), klPerImage)); // (N)
  return { loss: T.div(T.mean(perImage), C * H * W), nll: T.mean(recPerImage), kl: T.mean(klPerImage) };
}

export type ReconstructionLoss = 'logit-laplace' | 'mse';

export interface GumbelLossOptions {
  /** The reconstruction term (default the paper's logit-Laplace). */
  reconstruction?: ReconstructionLoss;
  /** Weight λ of the codebook-diversity penalty (default 0). */
  diversity?: number;
}

/** log K − H(p̄), p̄ the mean of softmax(logits) over images and positions: 0 when every code is used equally. */
export function codeDiversityPenalty(logits: Tensor): Tensor {
  const K = logits.shape[1]!;
  const pbar = T.mean(T.softmax(logits, 1), [0, 2, 3]); // (K)
  return T.add(T.sum(T.mul(pbar, T.log(T.add(pbar, 1e-9)))), Math.log(K)); // scalar
}

/**
 * The MSE version of dvaeElbo: mean over sub-pixels of (sigmoid(μ) − x)² (x mapped) + β·Σ KL / (C·H·W) per image,
 * averaged over images.
 */
export function dvaeMseLoss(xMapped: Tensor, stats: Tensor, logits: Tensor, beta: Tensor): ElboTerms {
  const d = T.sub(T.sigmoid(T.narrow(stats, 1, 0, xMapped.shape[1]!)), xMapped); // (N, C, H, W)
  return normalisedLoss(xMapped, T.sum(T.mul(d, d), [1, 2, 3]), logits, beta);
}

/** Gumbel dVAE loss of images x in [0, 1] (N, C, S, S): encode, relax with temperature τ, decode, ELBO. */
export function gumbelDvaeLoss(vae: Dvae, x: Tensor, tau: Tensor, beta: Tensor, ctx: ForwardCtx, o: GumbelLossOptions = {}): ElboTerms {
  const xm = mapPixels(x); // (N, C, S, S)
  const logits = vae.encodeLogits(xm); // (N, K, h, w)
  const z = gumbelSoftmax(logits, tau, ctx.training ? ctx.seed : undefined); // (N, K, h, w)
  const stats = vae.decode(z); // (N, 2C, S, S)
  const terms = o.reconstruction === 'mse' ? dvaeMseLoss(xm, stats, logits, beta) : dvaeElbo(xm, stats, logits, beta);
  if (!o.diversity) return terms;
  return { ...terms, loss: T.add(terms.loss, T.mul(codeDiversityPenalty(logits), o.diversity)) };
}

/** Commitment weight β of VQ-VAE (van den Oord et al. 2017). */
export const VQ_COMMITMENT = 0.25;

export interface VqTerms {
  loss: Tensor;
  /** Mean over images of Σ NLL. */
  nll: Tensor;
  /** mean ‖sg(z_e) − e‖² (moves the codes). */
  codebook: Tensor;
  /** mean ‖z_e − sg(e)‖² (keeps the encoder near its codes). */
  commitment: Tensor;
}

/**
 * VQ-VAE loss of images x in [0, 1]: nearest-code quantisation of the encoder output, straight-through gradient to
 * the encoder, logit-Laplace NLL normalised per sub-pixel (as the Gumbel loss) + codebook loss + β_c · commitment
 * loss (both means over the latent elements).
 */
export function vqDvaeLoss(vae: Dvae, x: Tensor, commitment = VQ_COMMITMENT): VqTerms {
  const xm = mapPixels(x); // (N, C, S, S)
  const [, C, H, W] = xm.shape as [number, number, number, number];
  const ze = vae.encoder.forward(xm); // (N, D, h, w)
  const [n, D, h, w] = ze.shape as [number, number, number, number];
  const codebook = vae.decoder.codebook!.t; // (K, D)
  const negDist = T.neg(T.stopGradient(codeDistances(ze, codebook))); // (N, K, h, w)
  const idx = T.reshape(T.topK(negDist, 1, 1).indices, [n * h * w]); // (M)
  const e = T.transpose(T.reshape(T.gather(codebook, idx), [n, h, w, D]), [0, 3, 1, 2]); // (N, D, h, w)
  const zq = T.add(ze, T.stopGradient(T.sub(e, ze))); // straight-through: forward e, gradient to z_e
  const stats = vae.decoder.forward(zq); // (N, 2C, S, S)
  const mu = T.narrow(stats, 1, 0, C);
  const lnB = T.narrow(stats, 1, C, C);
  const nll = T.mean(T.sum(logitLaplaceNll(xm, mu, lnB), [1, 2, 3]));
  const sq = (a: Tensor) => T.mean(T.mul(a, a));
  const cbLoss = sq(T.sub(T.stopGradient(ze), e));
  const commit = sq(T.sub(ze, T.stopGradient(e)));
  return { loss: T.add(T.add(T.div(nll, C * H * W), cbLoss), T.mul(commit, commitment)), nll, codebook: cbLoss, commitment: commit };
}
