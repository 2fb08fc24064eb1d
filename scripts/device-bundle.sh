#!/usr/bin/env bash
# Packs scripts/device-check.ts for a lent GPU machine that has neither Node nor npm (nor internet):
# .dev/kiln-device.tar.xz (ignored by git; carry it to the machine) unpacks to kiln-device/ with
#   run.sh         finds the Vulkan loader and the NVIDIA driver's ICD, then runs the check
#   check.mjs      the bundled script (shaders, wgsl_reflect and the float64 references inside)
#   node           this machine's node binary
#   node_modules/webgpu/   Dawn's package: index.js, package.json, dist/linux-x64/dawn.node
#   lib/libvulkan.so.1     this machine's Vulkan loader, used only where the system has none
#   glvnd/libEGL.so.1 …   glvnd's libEGL and libGLdispatch, which NVIDIA's Vulkan driver needs headless
#   test/fixtures/cae_*.safetensors   the PyTorch goldens of the step parity check
# There: tar xJf kiln-device.tar.xz -C /tmp && /tmp/kiln-device/run.sh [--quick] > check.json
set -euo pipefail
cd "$(dirname "$0")/.."
out=.dev/kiln-device
npx vite build --config scripts/device.vite.config.ts   # writes $out/check.mjs (and empties $out first)
mkdir -p "$out/node_modules/webgpu/dist/linux-x64" "$out/lib" "$out/test/fixtures"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$out/node_modules/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$out/node_modules/webgpu/dist/linux-x64/"
cp "$(readlink -f "$(command -v node)")" "$out/node"
loader=$("$(command -v ldconfig || echo /sbin/ldconfig)" -p | awk '/libvulkan\.so\.1 .*x86-64/ && !found { print $NF; found = 1 }')  # no early exit: pipefail
[ -n "$loader" ] || { echo "device-bundle: no libvulkan.so.1 here (apt-get install -y libvulkan1)" >&2; exit 1; }
cp "$(readlink -f "$loader")" "$out/lib/libvulkan.so.1"
# glvnd's libEGL and libGLdispatch: NVIDIA's Vulkan driver, headless, reaches the GPU through
# libEGL.so.1, and gives the loader no vkCreateInstance without it (seen on an H200 image without
# libglvnd: "Could not get 'vkCreateInstance' via 'vk_icdGetInstanceProcAddr'").
mkdir -p "$out/glvnd"
for l in libEGL.so.1 libGLdispatch.so.0; do
  p=$("$(command -v ldconfig || echo /sbin/ldconfig)" -p | awk -v l="$l" '$1 == l && /x86-64/ && !found { print $NF; found = 1 }')
  [ -n "$p" ] || { echo "device-bundle: no $l here (apt-get install -y libegl1)" >&2; exit 1; }
  cp "$(readlink -f "$p")" "$out/glvnd/$l"
done
printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "libEGL_nvidia.so.0"}}\n' > "$out/glvnd/10_nvidia.json"
cp test/fixtures/cae_train.safetensors test/fixtures/cae_forward_backward.safetensors "$out/test/fixtures/"
cat > "$out/run.sh" <<'RUN'
#!/bin/sh
# Runs the Kiln device check from this unpacked bundle; arguments go to check.mjs (--quick, --out
# FILE, --only SECTIONS, --require-gpu). JSON on stdout, a summary on stderr, exit 1 on a failure.
here=$(cd "$(dirname "$0")" && pwd)
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
# Dawn loads libvulkan.so.1: the system's (Debian/Ubuntu: apt-get install libvulkan1), else ours.
ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
if ! "$ldconfig" -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "run.sh: no libvulkan.so.1 on this system; using the bundled loader" >&2
fi
# NVIDIA's Vulkan driver needs glvnd's libEGL.so.1 (and the EGL vendor file naming libEGL_nvidia).
if ! "$ldconfig" -p 2>/dev/null | grep -q 'libEGL\.so\.1 '; then
  export LD_LIBRARY_PATH="$here/glvnd${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "run.sh: no libEGL.so.1 on this system; using the bundled glvnd libEGL" >&2
fi
if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && ! ls /usr/share/glvnd/egl_vendor.d/*nvidia*.json /etc/glvnd/egl_vendor.d/*nvidia*.json >/dev/null 2>&1; then
  export __EGL_VENDOR_LIBRARY_FILENAMES="$here/glvnd/10_nvidia.json"
fi
# The NVIDIA driver's Vulkan ICD (from the driver package, e.g. libnvidia-gl-<version>, or mounted
# by the NVIDIA container runtime). Without a json file but with the driver's library, write one.
# A mounted driver folder may be missing from the linker's path; the ICD names its library bare.
if [ -d /usr/local/nvidia/lib64 ]; then export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64"; fi
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
  icd=
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
           /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then icd=$f; break; fi
  done
  if [ -z "$icd" ]; then
    lib=$("$ldconfig" -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0 / { print $NF; exit }')
    for d in /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu /usr/lib64; do
      if [ -z "$lib" ] && [ -e "$d/libGLX_nvidia.so.0" ]; then lib=$d/libGLX_nvidia.so.0; fi
    done
    if [ -n "$lib" ]; then
      icd=/tmp/kiln_nvidia_icd.json
      printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.3.0"}}\n' "$lib" > "$icd"
    fi
  fi
  if [ -n "$icd" ]; then
    export VK_ICD_FILENAMES="$icd" VK_DRIVER_FILES="$icd"
    echo "run.sh: Vulkan driver $icd" >&2
  elif [ -e /dev/nvidia0 ]; then
    echo "run.sh: WARNING: /dev/nvidia0 exists but no NVIDIA Vulkan ICD (nvidia_icd.json or libGLX_nvidia.so.0) was found" >&2
  fi
fi
exec "$here/node" "$here/check.mjs" --fixtures "$here/test/fixtures" "$@"
RUN
chmod +x "$out/run.sh" "$out/node"
tar -C .dev -cf - kiln-device | xz -T2 -6 > .dev/kiln-device.tar.xz
du -sh "$out" .dev/kiln-device.tar.xz
rm -rf "$out" # 117 MB unpacked: only the archive is carried (the device tool's limit is 64 MiB with the tree)
