// Assemble a .wat file with the wabt package pinned in package-lock.json, so the build needs
// no system assembler: node kernels/wat2wasm.mjs IN.wat OUT.wasm [--relaxed]
import { readFileSync, writeFileSync } from "node:fs";
import wabtInit from "wabt";

const [input, output, ...flags] = process.argv.slice(2);
const wabt = await wabtInit();
const features = { simd: true, relaxed_simd: flags.includes("--relaxed") };
const module = wabt.parseWat(input, readFileSync(input, "utf8"), features);
module.validate();
writeFileSync(output, Buffer.from(module.toBinary({}).buffer));
