import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { rotate, type Benchmark } from "./benchmark.js";
import { median } from "./stats.js";

const CHILD = fileURLToPath(new URL("./import-child.mjs", import.meta.url));
const run = promisify(execFile);

/**
 * What `import("troupe")` costs an app: the package's main entry point (compiled, as installed; the
 * repo resolves its own name through package.json `exports`) imported in a fresh process. Baseline:
 * `import("@nats-io/transport-node")`, the NATS client Troupe is built on, in a fresh process of the
 * same run. The optional parts (GCS client, OpenTelemetry SDK) must not be loaded by it.
 */
export const importTime: Benchmark = {
  name: "import-time",
  async run(ctx) {
    const importMs = async (specifier: string): Promise<number> => {
      const { stdout } = await run(process.execPath, [CHILD, specifier], { cwd: PROJECT_ROOT });
      return (JSON.parse(stdout) as { ms: number }).ms;
    };
    const rounds = ctx.quick ? 5 : 3 * ctx.reps;
    const sides = await rotate(ctx, "import-time", { baseline: () => importMs("@nats-io/transport-node"), troupe: () => importMs("troupe") }, { rounds, show: (ms) => `${ms.toFixed(1)} ms` });
    return [
      {
        name: "import-time",
        value: median(sides.troupe),
        unit: "ms",
        baseline: 'import("@nats-io/transport-node")',
        baselineValue: median(sides.baseline),
        target: { op: "<=", ratio: 1.5 },
      },
    ];
  },
};
