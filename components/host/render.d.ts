// Types of render.js, wod's workshop template renderer (see the header comment there for the
// supported Jinja subset, the limits and the safety argument).

/** Template variables: plain JSON data (strings mostly; numbers, booleans, null, arrays, objects). */
export type TemplateVariables = { [name: string]: unknown };

export interface RenderOptions {
  /** Name used in errors; default "<template>". */
  file?: string;
  /** Escape every {{ }} output as JSON string content; default: `file` ends with ".ipynb". */
  notebook?: boolean;
}

/** A template that does not render: `${file}:${line}: ${reason}`. The reason never holds a variable's value. */
export declare class TemplateError extends Error {
  constructor(file: string, line: number, reason: string);
  readonly file: string;
  /** 1-based; 0 when the problem is about the whole file. */
  readonly line: number;
  readonly reason: string;
}

export interface TemplateProblem {
  /** Path relative to the workshop folder, with "/" separators. */
  file: string;
  /** 1-based; 0 when the problem is about the whole file (symlink, size, notebook shape). */
  line: number;
  reason: string;
}

/** Renders one template; throws TemplateError. */
export declare function renderTemplate(text: string, vars: TemplateVariables, options?: RenderOptions): string;

/** WoD's rule: *.ipynb, *.yaml, *.py, *.sh, *.src, *.tf, *.env and Variables.ps1 are rendered (not hidden files, not Jupyter checkpoints); everything else is copied byte for byte. */
export declare function isRendered(relativePath: string): boolean;

/** Renders every renderable file in memory and checks rendered notebooks; every problem of every file, [] when the folder renders. */
export declare function checkFolder(srcDir: string, vars: TemplateVariables): TemplateProblem[];

/** Builds `${destDir}.rendering`, then replaces destDir with it; throws TemplateError on the first failure and leaves no partial destDir. */
export declare function renderFolder(srcDir: string, destDir: string, vars: TemplateVariables): { rendered: number; copied: number };

export declare const LIMITS: {
  readonly templateChars: number;
  readonly outputChars: number;
  readonly loopIterations: number;
  readonly rangeLength: number;
  readonly listItems: number;
  readonly nesting: number;
  readonly work: number;
  readonly variablesBytes: number;
};
