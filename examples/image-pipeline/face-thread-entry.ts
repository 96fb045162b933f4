// Runs inside a worker thread started by FaceThread: decodes and analyses the images it is sent, so the
// node's event loop (heartbeats, messages) never waits on TensorFlow.js.
import { parentPort } from "node:worker_threads";
import { detectFaces, loadFaceModels } from "./face-model.js";
import type { ThreadReply, ThreadRequest } from "./face-thread.js";

const port = parentPort;
if (!port) throw new Error("face-thread-entry runs in a worker thread (see FaceThread)");

// Requests are handled one after another, in the order they come: TensorFlow.js runs one model at a time.
let queue = Promise.resolve();
port.on("message", (request: ThreadRequest) => {
  queue = queue.then(async () => {
    let reply: ThreadReply;
    try {
      reply = request.jpeg ? { id: request.id, detection: await detectFaces(request.jpeg) } : (await loadFaceModels(), { id: request.id });
    } catch (error) {
      reply = { id: request.id, error: error instanceof Error ? error.message : String(error) };
    }
    port.postMessage(reply);
  });
});
