// Loaded by mocha before any test (.mocharc.json "require"): the `troupe` processes tests start run the
// CLI from the TypeScript sources, the same code the tests themselves import (see bin/troupe.mjs).
process.env.TROUPE_CLI_FROM_SOURCE = "1";
