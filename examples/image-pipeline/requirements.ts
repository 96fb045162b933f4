import { createRequire } from "node:module";
import { MissingDependencyError } from "../../runtime/index.js";

/**
 * What face detection needs beyond Troupe. They are this example's own dependencies, not Troupe's
 * (an app that installs Troupe never gets TensorFlow.js): checked up front so that a missing one is
 * one clear error rather than a failure inside a worker thread.
 */
const PACKAGES = ["@vladmandic/face-api", "@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "jpeg-js"];

export function requireFacePackages(): void {
  const require = createRequire(import.meta.url);
  const missing = PACKAGES.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) throw new MissingDependencyError(missing, "the image-pipeline example", undefined);
}
