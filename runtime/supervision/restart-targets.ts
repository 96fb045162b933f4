import { oneForAll } from "./one-for-all.js";
import { oneForOne } from "./one-for-one.js";
import { restForOne } from "./rest-for-one.js";
import type { SupervisionStrategy } from "./supervisor-spec.js";

/** The children to restart, in start order, when `failed` fails under `strategy`. */
export function restartTargets<C>(strategy: SupervisionStrategy, failed: C, childrenInStartOrder: readonly C[]): C[] {
  switch (strategy) {
    case "one-for-one":
      return oneForOne(failed, childrenInStartOrder);
    case "one-for-all":
      return oneForAll(failed, childrenInStartOrder);
    case "rest-for-one":
      return restForOne(failed, childrenInStartOrder);
  }
}
