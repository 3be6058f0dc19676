// Shared image types of the DALL·E system. Images are planar RGB float32 in [0, 1] (CHW, the layout the engine's
// convolutions take), one caption per image. Every module of src/image reads and writes these.

/** A planar RGB image: data is (3, height, width) float32 in [0, 1], channel-major (CHW). */
export interface RgbImage {
  width: number;
  height: number;
  data: Float32Array;
}

/** One training / evaluation example. `source` names where it came from (file path, emoji id, scene seed …). */
export interface ImageCaption {
  image: RgbImage;
  caption: string;
  source: string;
}

/** A dataset of square images of one size with captions; `skipped` lists inputs that were refused, with the reason. */
export interface ImageCaptionDataset {
  /** Side of every image (pixels). */
  size: number;
  train: ImageCaption[];
  /** Held-out examples (for shapes: held-out compositions); may be empty. */
  heldOut: ImageCaption[];
  skipped: { source: string; reason: string }[];
  /** How the dataset was made (spec, seed, counts …), stored with the models trained on it. */
  description: Record<string, unknown>;
}

/** Number of float32 values of an image of side `size`. */
export function imageLength(size: number): number {
  return 3 * size * size;
}

/** Stack images (all `size`×`size`) into one (N, 3, size, size) batch. */
export function stackImages(images: readonly RgbImage[], size: number): Float32Array {
  const n = imageLength(size);
  const out = new Float32Array(images.length * n);
  images.forEach((im, i) => {
    if (im.width !== size || im.height !== size || im.data.length !== n) {
      throw new Error(`image ${i} is ${im.width}×${im.height} (${im.data.length} values), expected ${size}×${size}×3`);
    }
    out.set(im.data, i * n);
  });
  return out;
}
