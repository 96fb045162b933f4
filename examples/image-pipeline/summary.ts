/** The readable end of a run: a table of every face found, then totals by gender and the identities. */
import type { PipelineState } from "./face-reducer.js";
import { faceIdentities, type Submission } from "./verify.js";

/** Rows of the face table shown at most; the state holds them all. */
const MAX_ROWS = 60;

/** Tasks answered from the result cache, by task id (a job's `cached`). */
export type CachedTasks = Readonly<Record<string, { readonly outcome: "hit" | "wait"; readonly savedMs: number }>>;

export function summaryTable(state: PipelineState, submitted: readonly Submission[], cached: CachedTasks = {}): string[] {
  const identityOf = faceIdentities(state);
  const rows: string[][] = [["image", "worker", "time", "face", "gender", "", "age", "identity", "box (x,y w×h)"]];
  let shown = 0;
  for (const s of submitted) {
    const image = state.images[s.id];
    if (!image) continue;
    if (rows.length > MAX_ROWS) break;
    shown++;
    const label = s.copyOf === undefined ? s.id : `${s.id} (again)`;
    // A cached result is the one computed first: its node and time are that computation's.
    const head = cached[s.id] ? [label, `(${image.node ?? ""})`, `cache ${cached[s.id]!.outcome}`] : [label, image.node ?? "", `${((image.durationMs ?? 0) / 1000).toFixed(2)} s`];
    const faces = image.faces ?? [];
    if (faces.length === 0) rows.push([...head, "-", "no faces", "", "", "", ""]);
    faces.forEach((face, i) => {
      const box = face.box ?? {};
      rows.push([
        ...(i === 0 ? head : ["", "", ""]),
        String(i + 1),
        face.gender ?? "",
        `${Math.round((face.genderProbability ?? 0) * 100)}%`,
        (face.age ?? 0).toFixed(0),
        identityOf.get(`${i}:${s.id}`) ?? "",
        `${Math.round(box.x ?? 0)},${Math.round(box.y ?? 0)} ${Math.round(box.width ?? 0)}×${Math.round(box.height ?? 0)}`,
      ]);
    });
  }
  const lines = formatTable(rows, new Set([2, 3, 5, 6]));
  const images = submitted.filter((s) => state.images[s.id]).length;
  if (shown < images) lines.push(`... and ${images - shown} more images (all of them are in the state)`);
  return lines;
}

export function summaryTotals(state: PipelineState, submitted: readonly Submission[], cached: CachedTasks = {}): string[] {
  const lines: string[] = [];
  const faces = Object.values(state.images).reduce((n, image) => n + (image.faces?.length ?? 0), 0);
  const genders = Object.entries(state.facesByGender)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([gender, n]) => `${n} ${gender}`);
  lines.push(`${Object.keys(state.images).length} images, ${faces} faces${genders.length ? `: ${genders.join(", ")}` : ""}`);

  // An identity seen in more than one photo (a repeat of the same photo does not count).
  const nameOf = new Map(submitted.map((s) => [s.id, s.task.name]));
  const shared = state.identities
    .map((identity) => ({ id: identity.id ?? "", photos: [...new Set((identity.faces ?? []).map((f) => nameOf.get(f.image ?? "") ?? f.image ?? ""))] }))
    .filter((identity) => identity.photos.length > 1);
  lines.push(
    `${state.identities.length} identities (faces closer than 0.6, every pair)` +
      (shared.length ? `; in more than one photo: ${shared.map((i) => `${i.id} (${i.photos.join(", ")})`).join(", ")}` : "; none in more than one photo"),
  );

  const identityOf = faceIdentities(state);
  for (const s of submitted) {
    if (s.copyOf === undefined) continue;
    const n = state.images[s.id]?.faces?.length ?? 0;
    const same = Array.from({ length: n }, (_, i) => identityOf.get(`${i}:${s.id}`) === identityOf.get(`${i}:${s.copyOf}`)).every(Boolean);
    if (submitted.length <= 20 || !same) lines.push(`${s.id}, the same photo again: ${same ? `its ${n} faces matched those of ${s.copyOf}, one identity each` : `did NOT match ${s.copyOf}`}`);
  }

  const perNode = new Map<string, number[]>();
  for (const [id, image] of Object.entries(state.images)) if (!cached[id]) perNode.set(image.node ?? "?", [...(perNode.get(image.node ?? "?") ?? []), image.durationMs ?? 0]);
  const all = [...perNode.values()].flat();
  const mean = all.reduce((a, b) => a + b, 0) / Math.max(1, all.length);
  lines.push(
    `per image ${(mean / 1000).toFixed(2)} s on average (decode + detect); ` +
      [...perNode.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([node, times]) => `${node} ${times.length} images`)
        .join(", "),
  );
  const fromCache = submitted.filter((sub) => cached[sub.id]);
  if (fromCache.length > 0) {
    const savedMs = cachedAnalysisMs(state, cached);
    const shown = fromCache.slice(0, 20).map((sub) => `${sub.id} (${cached[sub.id]!.outcome === "hit" ? "a hit" : "waited for an identical task"})`);
    lines.push(`answered from the cache: ${shown.join(", ")}${fromCache.length > 20 ? `, ... (${fromCache.length} in all)` : ""}; ${fromCache.length} of ${submitted.length} results, ${(savedMs / 1000).toFixed(2)} s of analysis saved`);
  }
  return lines;
}

/**
 * The analysis time (decode + detect, as measured when each was computed) of the results answered from
 * the cache: what the cache saved, not counting the models' loading that a first task also waits for.
 */
export function cachedAnalysisMs(state: PipelineState, cached: CachedTasks): number {
  return Object.keys(cached).reduce((ms, id) => ms + (state.images[id]?.durationMs ?? 0), 0);
}

function formatTable(rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => [...(r[c] ?? "")].length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd(),
  );
}
