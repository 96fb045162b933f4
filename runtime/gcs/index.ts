// `troupe/gcs`: state in Google Cloud Storage. `@google-cloud/storage` 7.x is an optional peer
// dependency, loaded on a store's first request; `openStateStore("gs://bucket/prefix")` from the main
// entry point gives the same store.
export { GcsStore, DEFAULT_GCS_REQUEST_TIMEOUT_MS, WRITE_ID_METADATA, type GcsStoreOptions } from "./gcs-store.js";
export { DEFAULT_GCS_RETRY, type GcsRetryOptions, type RetryInfo } from "./gcs-retry.js";
export { startFakeGcsServer, type FakeGcsServer, type FakeGcsServerOptions } from "./fake-gcs-server.js";
