/**
 * Packages Troupe uses for optional parts (the GCS client, the OpenTelemetry SDK) are optional peer
 * dependencies: an app that never uses the part never installs or loads them. This loads one on
 * first use and turns "module not found" into an error that names the package to install.
 */
export class MissingDependencyError extends Error {
  override readonly name = "MissingDependencyError";
  constructor(
    readonly packages: readonly string[],
    feature: string,
    cause: unknown,
  ) {
    super(`${feature} needs ${packages.join(", ")}, which ${packages.length === 1 ? "is" : "are"} not installed; add ${packages.length === 1 ? "it" : "them"} to your app: npm install ${packages.join(" ")}`, { cause });
  }
}

/**
 * Runs `load` (a dynamic `import()`), rethrowing a missing package among `packages` as a
 * MissingDependencyError for `feature`. Other failures pass through unchanged.
 */
export async function loadOptional<T>(feature: string, packages: readonly string[], load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (isMissingModule(error, packages)) throw new MissingDependencyError(packages, feature, error);
    throw error;
  }
}

function isMissingModule(error: unknown, packages: readonly string[]): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return false;
  const message = String((error as Error).message);
  return packages.some((name) => message.includes(`'${name}'`) || message.includes(`"${name}"`) || message.includes(`${name}/`));
}
