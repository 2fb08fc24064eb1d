// Typed errors. Every error Kiln raises on bad input names the op, layer, file or field at fault,
// so callers (CLI, demo) can show one clear line and tests can assert on the kind.

/** Base class: `instanceof KilnError` separates our diagnosed failures from bugs. */
export class KilnError extends Error {
  override name = 'KilnError';
}

/** A tensor shape or op configuration that cannot work (raised before any GPU work). */
export class ShapeError extends KilnError {
  override name = 'ShapeError';
}

/** A file or byte buffer whose contents are malformed (CIFAR batch, safetensors, checkpoint). */
export class FormatError extends KilnError {
  override name = 'FormatError';
}

/** A model spec, CLI flag or option with a bad value. */
export class ConfigError extends KilnError {
  override name = 'ConfigError';
}

/** WebGPU is missing, no adapter was found, or the device reported an error. */
export class GpuError extends KilnError {
  override name = 'GpuError';
}

/**
 * A result that could not be written where the user asked. Raised after the work is done, so it
 * carries where the bytes went instead (the rescue file), or says they are lost.
 */
export class WriteError extends KilnError {
  override name = 'WriteError';
  constructor(
    message: string,
    /** The flag that named the destination (`--save`). */
    readonly flag: string,
    /** The path as the user gave it. */
    readonly path: string,
    /** The errno code of the failure (`ENOSPC`), or undefined when it was not a system error. */
    readonly code: string | undefined,
    /** Where the bytes were saved instead; undefined when the rescue failed too. */
    readonly rescuePath: string | undefined,
  ) {
    super(message);
  }
}

/** A training step whose loss, gradients or updated weights were NaN or ±inf (the weights kept are the last good ones). */
export class NonFiniteError extends KilnError {
  override name = 'NonFiniteError';
  constructor(message: string, readonly step: number) {
    super(message);
  }
}
