/** The instrumentation scope of every Troupe metric (the meter's name too). */
export const METER_NAME = "troupe";

/**
 * Names from the OpenTelemetry semantic conventions for messaging metrics (status: development);
 * Troupe's own metrics are under `troupe.`.
 */
export const SEMCONV = {
  sent: "messaging.client.sent.messages",
  consumed: "messaging.client.consumed.messages",
  processDuration: "messaging.process.duration",
} as const;
