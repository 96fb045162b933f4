import { DataPointType, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { troupeMetricProducer } from "../../runtime/metrics/index.js";

/** A reader collected on demand, with Troupe's histograms: what a Prometheus scrape does, in memory. */
export class ManualMetricReader extends MetricReader {
  constructor() {
    super({ metricProducers: [troupeMetricProducer()] });
  }

  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}

  /** Collects now: one point per metric name and attribute set. */
  async points(): Promise<MetricPoints> {
    const { resourceMetrics, errors } = await this.collect();
    if (errors.length > 0) throw new Error(`collecting metrics failed: ${String(errors[0])}`);
    return new MetricPoints(resourceMetrics);
  }
}

interface Point {
  readonly name: string;
  readonly unit: string;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** The value of a sum or gauge; a histogram's count. */
  readonly value: number;
  readonly histogram?: { readonly count: number; readonly sum: number };
}

/** The points of one collection, looked up by name and the attributes that matter to a test. */
export class MetricPoints {
  readonly all: Point[] = [];

  constructor(metrics: ResourceMetrics) {
    for (const scope of metrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        for (const point of metric.dataPoints) {
          const histogram = metric.dataPointType === DataPointType.HISTOGRAM ? (point.value as { count: number; sum?: number }) : undefined;
          this.all.push({
            name: metric.descriptor.name,
            unit: metric.descriptor.unit,
            attributes: point.attributes,
            value: histogram ? histogram.count : (point.value as number),
            ...(histogram ? { histogram: { count: histogram.count, sum: histogram.sum ?? 0 } } : {}),
          });
        }
      }
    }
  }

  /** The value of the one point of `name` whose attributes include `attributes`; undefined when there is none; throws when several match. */
  value(name: string, attributes: Readonly<Record<string, string>> = {}): number | undefined {
    const matching = this.all.filter((p) => p.name === name && Object.entries(attributes).every(([key, value]) => p.attributes[key] === value));
    if (matching.length > 1) throw new Error(`${matching.length} points of ${name} match ${JSON.stringify(attributes)}: ${JSON.stringify(matching.map((p) => p.attributes))}`);
    return matching[0]?.value;
  }

  unitOf(name: string): string | undefined {
    return this.all.find((p) => p.name === name)?.unit;
  }
}
