// Changing a running trainer's learning rate between steps. The optimizer's lr is only read when a
// step's uniforms are written (prepareStep → the optimizer pass's perStep, from the node's args), so
// writing it into those args takes effect at the next step with nothing rebuilt. The trainer's own
// options are updated too, so checkpoints record the rate in force and resume with it.
// TODO(lead): replace with Trainer.setLearningRate(lr) once it exists (diff in the worker report).
import { ConfigError } from '../errors.ts';
import type { Trainer } from '../train/trainer.ts';

const OPTIMIZER_PASSES = new Set(['optimizer.adam', 'optimizer.sgd']);

/** Sets the learning rate for the steps submitted from now on; false when the graph has no optimizer node to update. */
export function setLearningRate(trainer: Trainer, lr: number): boolean {
  if (!Number.isFinite(lr) || lr <= 0) throw new ConfigError(`learning rate must be a positive number, got ${lr}`);
  const node = trainer.tg.graph.nodes.find((n) => OPTIMIZER_PASSES.has(n.pass));
  const args = node?.args as { options?: { lr?: unknown } } | undefined;
  if (!args?.options || typeof args.options.lr !== 'number') return false;
  args.options.lr = lr;
  trainer.options.optimizer.options.lr = lr;
  return true;
}

export function learningRate(trainer: Trainer): number {
  return trainer.options.optimizer.options.lr;
}
