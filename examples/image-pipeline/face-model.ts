/**
 * Face detection, age and gender estimation and face descriptors with `@vladmandic/face-api` on
 * TensorFlow.js's WebAssembly backend, entirely offline: the `.wasm` files come from
 * `@tensorflow/tfjs-backend-wasm` and the model weights from face-api's own `model/` folder, both in
 * `node_modules`.
 *
 * face-api's Node bundle `require`s `@tensorflow/tfjs`, and so does this module (the package has no ESM
 * entry point for Node), so both talk to the same TensorFlow.js instance.
 *
 * TensorFlow.js keeps its backend and the loaded weights per process, so the models are loaded once per
 * process, on first use (`loadFaceModels`), and shared by every call after that.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import * as faceapi from "@vladmandic/face-api/dist/face-api.node-wasm.js";
import jpeg from "jpeg-js";

const require = createRequire(import.meta.url);

/** Detections below this confidence are dropped (face-api's default for SSD MobileNet v1). */
export const MIN_DETECTION_CONFIDENCE = 0.5;

/** Largest image accepted, in megapixels, so that one odd file cannot exhaust a worker's memory. */
const MAX_MEGAPIXELS = 50;

export interface DetectedFace {
  readonly box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  readonly score: number;
  readonly gender: string;
  readonly genderProbability: number;
  readonly age: number;
  readonly descriptor: Float32Array;
}

export interface Detection {
  readonly width: number;
  readonly height: number;
  readonly faces: readonly DetectedFace[];
}

let loading: Promise<void> | undefined;

/** Selects the wasm backend and loads the four networks used here; resolves at once after the first time. */
export function loadFaceModels(): Promise<void> {
  loading ??= load().catch((error: unknown) => {
    loading = undefined; // a later call may try again
    throw error;
  });
  return loading;
}

async function load(): Promise<void> {
  // `false`: these are the files' directory, not a CDN prefix; the backend picks the SIMD build if it can.
  setWasmPaths(`${join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist")}/`, false);
  if (!(await tf.setBackend("wasm"))) throw new Error("TensorFlow.js could not start its wasm backend");
  await tf.ready();
  const models = join(dirname(require.resolve("@vladmandic/face-api/package.json")), "model");
  await Promise.all([
    faceapi.nets.ssdMobilenetv1.loadFromDisk(models),
    faceapi.nets.faceLandmark68Net.loadFromDisk(models),
    faceapi.nets.ageGenderNet.loadFromDisk(models),
    faceapi.nets.faceRecognitionNet.loadFromDisk(models),
  ]);
}

/** Decodes a JPEG and finds every face in it, with its box, gender, age and descriptor. */
export async function detectFaces(jpegBytes: Uint8Array): Promise<Detection> {
  await loadFaceModels();
  const image = jpeg.decode(jpegBytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: MAX_MEGAPIXELS });
  const tensor = tf.tensor3d(image.data, [image.height, image.width, 3], "int32");
  try {
    const results = await faceapi
      .detectAllFaces(tensor, new faceapi.SsdMobilenetv1Options({ minConfidence: MIN_DETECTION_CONFIDENCE }))
      .withFaceLandmarks()
      .withFaceDescriptors()
      .withAgeAndGender();
    const faces = results.map((r) => ({
      box: { x: r.detection.box.x, y: r.detection.box.y, width: r.detection.box.width, height: r.detection.box.height },
      score: r.detection.score,
      gender: r.gender,
      genderProbability: r.genderProbability,
      age: r.age,
      descriptor: r.descriptor,
    }));
    // Reading order (left to right, then top to bottom), so that face numbers mean something to people.
    faces.sort((a, b) => a.box.x - b.box.x || a.box.y - b.box.y);
    return { width: image.width, height: image.height, faces };
  } finally {
    tensor.dispose();
  }
}
