import { ValueType, type HrTime } from "@opentelemetry/api";
import { emptyResource } from "@opentelemetry/resources";
import { AggregationTemporality, DataPointType, type HistogramMetricData, type MetricProducer } from "@opentelemetry/sdk-metrics";
import { histogramSources } from "./histogram-sources.js";
import { METER_NAME } from "./metric-names.js";

/**
 * A MetricProducer for a metric reader: the duration histograms of every node of this process with
 * metrics on (`messaging.process.duration`, `troupe.ask.duration`), as cumulative histogram points
 * built from the plain buckets the runtime keeps. `startTelemetry` adds it to the readers it creates;
 * with your own SDK, pass it in a reader's `metricProducers`.
 */
export function troupeMetricProducer(): MetricProducer {
  return {
    collect: async () => {
      const now = hrTime(Date.now());
      const byName = new Map<string, HistogramMetricData>();
      for (const source of histogramSources()) {
        const startTime = hrTime(source.startedAtMs);
        for (const point of source.points()) {
          let metric = byName.get(point.name);
          if (metric === undefined) {
            metric = {
              descriptor: { name: point.name, description: point.description, unit: point.unit, valueType: ValueType.DOUBLE },
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.HISTOGRAM,
              dataPoints: [],
            };
            byName.set(point.name, metric);
          }
          const h = point.histogram;
          if (h.count === 0) continue;
          metric.dataPoints.push({
            startTime,
            endTime: now,
            attributes: point.attributes,
            value: { buckets: { boundaries: [...h.boundaries], counts: [...h.counts] }, sum: h.sum, count: h.count, min: h.min, max: h.max },
          });
        }
      }
      const metrics = [...byName.values()].filter((m) => m.dataPoints.length > 0);
      return { resourceMetrics: { resource: emptyResource(), scopeMetrics: metrics.length === 0 ? [] : [{ scope: { name: METER_NAME }, metrics }] }, errors: [] };
    },
  };
}

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}
