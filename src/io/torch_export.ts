// A model spec as a self-contained PyTorch file: `build()` returns an nn.Sequential whose
// state_dict has exactly the tensors of Kiln's `--save` file (names, shapes, batchnorm buffers), and
// `LOSS` is the loss it trains with. Every module line is the layer record's own `torch(L)` twin, so
// the registry stays the single source. Kiln's names may hold dots (`conv1.0`, as the seed's nested
// nn.Sequential blocks produce them) but a PyTorch module name may not, so dotted names become
// nested nn.Sequentials; a spec whose names cannot be nested that way is refused, naming the layer.
// WGSL-free: it runs wherever a spec can be checked.
import { ConfigError } from '../errors.ts';
import { LAYERS, type Layer } from '../layers/index.ts';
import type { Model } from '../nn/spec.ts';
import { defaultRange, rangeScale, type DataRange } from '../data/range.ts';

/**
 * Names nn.Sequential's add_module refuses because an attribute already has them: torch 1.13's
 * dir(nn.Sequential()) without dunders (refused by pattern), plus what later releases added.
 */
const TAKEN = new Set(`T_destination add_module append apply bfloat16 buffers children cpu cuda double dump_patches eval
  extend extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half insert ipu load_state_dict
  modules named_buffers named_children named_modules named_parameters parameters pop register_backward_hook
  register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
  register_load_state_dict_post_hook register_module register_parameter requires_grad_ set_extra_state share_memory
  state_dict to to_empty train training type xpu zero_grad _apply _backward_hooks _buffers _call_impl _forward_hooks
  _forward_pre_hooks _get_backward_hooks _get_item_by_idx _get_name _is_full_backward_hook _load_from_state_dict
  _load_state_dict_post_hooks _load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook _modules _named_members
  _non_persistent_buffers_set _parameters _register_load_state_dict_pre_hook _register_state_dict_hook
  _replicate_for_data_parallel _save_to_state_dict _slow_forward _state_dict_hooks _version
  call_super_init compile mtia register_load_state_dict_pre_hook register_state_dict_pre_hook
  register_state_dict_post_hook set_submodule`.split(/\s+/));

/** A module of the export: one layer, or an nn.Sequential of children under a dotted prefix. */
type Node = { kind: 'layer'; layer: Layer } | { kind: 'group'; children: [string, Node][] };

function tree(model: Model, source: string): [string, Node][] {
  const root: [string, Node][] = [];
  for (const L of model.layers) {
    const fail = (why: string): never => {
      throw new ConfigError(`${source}: layer ${L.index} (${L.name}): ${why}`);
    };
    const parts = L.name.split('.');
    for (const p of parts) {
      if (p === '') fail('an empty part between dots cannot be a PyTorch module name');
      if (TAKEN.has(p) || /^__.*__$/.test(p)) fail(`"${p}" is an attribute of nn.Module, so PyTorch refuses it as a module name`);
    }
    let children = root;
    parts.forEach((p, i) => {
      const prefix = parts.slice(0, i + 1).join('.');
      const found = children.find(([n]) => n === p);
      if (i === parts.length - 1) {
        if (found) fail(`"${prefix}" is already a group of layers (${prefix}.…), so it cannot also be a layer`);
        children.push([p, { kind: 'layer', layer: L }]);
        return;
      }
      const last = children[children.length - 1];
      if (found && found[1].kind === 'layer') fail(`"${prefix}" is a layer, so it cannot also hold ${L.name}`);
      // An nn.Sequential runs its children together: a group must be one unbroken run of layers.
      if (found && found !== last) fail(`the layers named ${prefix}.… are not consecutive, so they cannot form one nested nn.Sequential`);
      if (!found) children.push([p, { kind: 'group', children: [] }]);
      children = (children[children.length - 1]![1] as Extract<Node, { kind: 'group' }>).children;
    });
  }
  return root;
}

/** A Python string literal (JSON's escapes are Python's). */
const pyStr = (s: string) => (/^[\w .+:/-]*$/.test(s) ? `'${s}'` : JSON.stringify(s));

function sequential(children: [string, Node][], indent: string): string {
  const inner = indent + '    ';
  const lines = children.map(([name, node]) => {
    const module = node.kind === 'layer' ? LAYERS[node.layer.type]!.torch(node.layer) : sequential(node.children, inner);
    return `${inner}(${pyStr(name)}, ${module}),`;
  });
  return `nn.Sequential(OrderedDict([\n${lines.join('\n')}\n${indent}]))`;
}

const LOSS_MODULES = { mse: 'nn.MSELoss()', l1: 'nn.L1Loss()', bce: 'nn.BCELoss()', cross_entropy: 'nn.CrossEntropyLoss()' } as const;

function lossComment(model: Model): string[] {
  if (model.loss === 'cross_entropy') return ['# LOSS(model(x), labels): labels are class indices (int64), the outputs raw logits.'];
  if (model.target === 'input') return ['# LOSS(model(x), x): the target is the input itself (an autoencoder).'];
  const c = model.output[0]!;
  return c === 1
    ? ['# LOSS(model(x), target) with target = labels.float()[:, None]: one output, whose target is the label', '# itself (0 or 1).']
    : [`# LOSS(model(x), target) with target = torch.nn.functional.one_hot(labels, ${c}).float():`, '# one-hot vectors of the labels.'];
}

/**
 * The PyTorch file for `model`. `source` names it in the header and in refusals (a preset's name or
 * a spec file's base name: never a machine-specific path, so the output is reproducible).
 */
export function torchExport(model: Model, source: string): string {
  const modules = sequential(tree(model, source), '    ');
  const range: DataRange = defaultRange(model); // Kiln's default data range
  const { divisor, shift } = rangeScale(range);
  const frozen = model.layers.filter((L) => L.frozen && L.params.length > 0).map((L) => L.name);
  return [
    `# ${source} as PyTorch modules, written by \`kiln export-torch\` from Kiln's layer registry.`,
    "# build().state_dict() has exactly the tensors of Kiln's `--save` file: same names, shapes and",
    '# batchnorm buffers, so',
    '#     model = build()',
    "#     model.load_state_dict(safetensors.torch.load_file('weights.safetensors'), strict=True)",
    `# Input: float32 [N, ${model.input.join(', ')}], image bytes scaled as Kiln scales them by default:`,
    `# x = byte / ${divisor}${shift ? ` - ${-shift}` : ''}, in [${range.replace(',', ', ')}]. Output: [N, ${model.output.join(', ')}].`,
    '',
    'from collections import OrderedDict',
    '',
    'import torch.nn as nn',
    '',
    `INPUT_SHAPE = (${model.input.join(', ')})`,
    '',
    '',
    'def build():',
    "    \"\"\"The model with Kiln's layer names, initialised by PyTorch's defaults.\"\"\"",
    ...(frozen.length === 0 ? [`    return ${modules}`] : [
      `    model = ${modules}`,
      '    # Frozen in the spec: no gradients (leave their parameters out of the optimizer as well).',
      `    for name in [${frozen.map(pyStr).join(', ')}]:`,
      '        model.get_submodule(name).requires_grad_(False)',
      '    return model',
    ]),
    '',
    '',
    ...lossComment(model),
    `LOSS = ${LOSS_MODULES[model.loss]}`,
    '',
    '',
    "if __name__ == '__main__':",
    '    import torch',
    '    model = build().eval()',
    '    print(model)',
    '    print(tuple(model(torch.zeros(1, *INPUT_SHAPE)).shape))',
    '',
  ].join('\n');
}
