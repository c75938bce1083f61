/**
 * `conclave init [dir] --template blank|review|research`: writes a new swarm
 * project from `templates/<name>/` (shipped with the package): a swarm file,
 * a typed agent module importing `conclave`, a voter policy, a test on
 * `conclave/testkit`, a package.json depending on this conclave's version,
 * and a README with the two commands that run it and test it.
 */
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../errors/index.js";
import { type OutputPlace, writingTo } from "./output-path.js";

/** The templates `init` offers, in the order `--help` lists them. */
export const TEMPLATES = Object.freeze(["blank", "review", "research"] as const);
export type TemplateName = (typeof TEMPLATES)[number];

/** Where the templates are: `templates/` at the package root, from src/cli or dist/cli alike. */
const TEMPLATES_DIR = fileURLToPath(new URL("../../templates/", import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL("../../package.json", import.meta.url));

/**
 * Files stored under another name in the templates: npm leaves `.gitignore`
 * out of a published package, so the template keeps it as `gitignore`.
 */
const RENAMED: Readonly<Record<string, string>> = Object.freeze({ gitignore: ".gitignore" });

export interface InitOptions {
  readonly template: string;
  readonly force: boolean;
}

/** A swarm name (lowercase letters, digits, '-', starting with a letter) made from a folder name. */
export function swarmNameFor(dir: string): string {
  const name = basename(resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .replace(/-+$/, "")
    .slice(0, 63);
  return name === "" ? "my-swarm" : name;
}

async function* templateFiles(dir: string, under = ""): AsyncGenerator<string> {
  for (const entry of await readdir(join(dir, under), { withFileTypes: true })) {
    const path = under === "" ? entry.name : `${under}/${entry.name}`;
    if (entry.isDirectory()) yield* templateFiles(dir, path);
    else yield path;
  }
}

/**
 * Writes the template into `dir`; exit 0. A folder that is not empty is
 * refused (exit 2) unless `force`, which overwrites the template's files and
 * leaves the others.
 *
 * @throws ConfigError for an unknown template, or a target it cannot write
 * (a file, a folder without write permission) (exit 2).
 */
export async function initProject(dir: string, options: InitOptions): Promise<number> {
  if (!(TEMPLATES as readonly string[]).includes(options.template)) {
    throw new ConfigError(
      `there is no template "${options.template}"; choose one of ${TEMPLATES.join(", ")}`,
    );
  }
  const target = resolve(dir);
  const place: OutputPlace = {
    what: "the swarm project",
    path: target,
    option: "conclave init <folder>",
  };
  // Read as a folder first: a file there is refused as a place to write, not a crash.
  const present = await writingTo(place, () => (existsSync(target) ? readdirSync(target) : []));
  if (present.length > 0 && !options.force) {
    process.stderr.write(
      `conclave: ${target} is not empty; init writes into an empty folder (name a new one: conclave init my-swarm), or pass --force to overwrite the template's files there\n`,
    );
    return 2;
  }
  const { version } = JSON.parse(await readFile(PACKAGE_JSON, "utf8")) as { version: string };
  const name = swarmNameFor(target);
  const values: Readonly<Record<string, string>> = {
    name,
    conclaveVersion: `^${version}`,
  };
  const source = join(TEMPLATES_DIR, options.template);
  const written: string[] = [];
  for await (const file of templateFiles(source)) {
    const text = await readFile(join(source, file), "utf8");
    const parts = file.split("/");
    const last = parts.pop() as string;
    const out = join(target, ...parts, RENAMED[last] ?? last);
    await writingTo(place, async () => {
      await mkdir(join(out, ".."), { recursive: true });
      await writeFile(
        out,
        text.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole),
      );
    });
    written.push(relative(target, out));
  }
  const folder = relative(process.cwd(), target);
  // Quoted for a POSIX shell when it needs it, so the line can be pasted as is.
  const cd = /^[\w@%+=:,./-]*$/.test(folder) ? folder : `'${folder.replaceAll("'", "'\\''")}'`;
  process.stdout.write(
    `wrote the ${options.template} swarm "${name}" in ${target}:\n${written
      .sort()
      .map((f) => `  ${f}\n`)
      .join(
        "",
      )}\nnext:\n${cd === "" ? "" : `  cd ${cd}\n`}  npm install && npx conclave up swarm.yaml\n  npm test\n`,
  );
  return 0;
}
