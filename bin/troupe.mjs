#!/usr/bin/env node
// The `troupe` command. Troupe is written in TypeScript and runs it directly through tsx's loader,
// so user topologies (`troupe run ./my-topology.ts`) load the same way.
import { register } from "tsx/esm/api";

register();
await import("../runtime/cli/main.ts");
